/*
 * completion.c - the scripts printed by "okof completion bash|zsh|fish".
 * They live in src/cli/completion/ as the shells read them; the Makefile
 * embeds them here (completions.h, generated).
 */
#include "completion.h"

#include <string.h>

#include "completions.h"

const char *
completion_script(const char *shell)
{
	if (strcmp(shell, "bash") == 0)
		return script_okof_bash;
	if (strcmp(shell, "zsh") == 0)
		return script__okof;
	if (strcmp(shell, "fish") == 0)
		return script_okof_fish;
	return NULL;
}
