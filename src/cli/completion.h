/* completion.h - shell completion scripts. */
#ifndef OKOF_COMPLETION_H
#define OKOF_COMPLETION_H

#define OKOF_COMMANDS \
	"backup completion del export gc get has import incr init keygen list " \
	"put stat verify"

/* The script for shell ("bash", "zsh"), or NULL for another shell. */
const char *completion_script(const char *shell);

#endif
