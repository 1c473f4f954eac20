# zsh -f Tests/completion/complete.zsh FOLDER LINE EXPECTED
# Types LINE and Tab in a real interactive zsh whose completion comes from FOLDER/_ashita, and returns once the
# command line shows EXPECTED (printing it); if it never does, it waits until the caller's time limit ends it.
zmodload zsh/zpty
folder=$1 line=$2 expected=$3
zpty shell 'zsh -f -i'
# A wide terminal: a long line that wrapped would be redrawn in pieces.
zpty -w shell "stty columns 2000; PROMPT='> '; fpath=(${(q)folder} \$fpath); autoload -Uz compinit; compinit -u -D; setopt nobeep; print -- READY-\$((6*7))"
zpty -r shell out '*READY-42*'
zpty -w -n shell "$line"$'\t'
zpty -r shell out "*${expected}*"
print -r -- "${expected}"
zpty -d shell
