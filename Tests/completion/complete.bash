# bash Tests/completion/complete.bash SCRIPT WORD...
# Prints, one per line, what bash's completion from SCRIPT offers for the last WORD of the command line WORD...,
# the way bash calls it when Tab is pressed at the end of that line.
script=$1
shift
[ -r /usr/share/bash-completion/bash_completion ] && source /usr/share/bash-completion/bash_completion
source "$script"
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
_ashita "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}"
