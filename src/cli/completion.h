/* completion.h - shell completion scripts. */
#ifndef OKOF_COMPLETION_H
#define OKOF_COMPLETION_H

/* The script for shell ("bash", "zsh", "fish"), or NULL for another. */
const char *completion_script(const char *shell);

#endif
