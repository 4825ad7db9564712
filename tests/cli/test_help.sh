#!/usr/bin/env bash
# --help and -h on paradit and on every subcommand print that subcommand's usage to stdout and
# exit 0; an unknown option names itself, points to --help and exits 2.
set -u
bin="$1"
source "$(dirname "$0")/check.sh"
help_check() {  # NAME FLAG COMMAND...: usage on stdout, nothing on stderr, exit 0
  local name="$1" flag="$2"
  shift 2
  local out err code
  out="$("$bin" "$@" "$flag" 2>/tmp/paradit_help_err.$$)"
  code=$?
  err="$(cat /tmp/paradit_help_err.$$)"
  rm -f /tmp/paradit_help_err.$$
  local want="usage: paradit ${name}"
  [ -z "$name" ] && want="usage: paradit <command>"
  if [ "$code" != 0 ] || ! grep -qF -- "$want" <<<"$out" || [ -n "$err" ]; then
    echo "FAIL '$*' $flag: exit $code, stdout: $(head -2 <<<"$out"), stderr: $err"
    failures=$((failures + 1))
  else
    echo "ok   '$*' $flag"
    passed=$((passed + 1))
  fi
}
for flag in --help -h; do
  help_check "" "$flag"
  for cmd in generate serve info eval tokenize bench plan version; do
    help_check "$cmd" "$flag" "$cmd"
  done
  help_check "eval transformer" "$flag" eval transformer
  for enc in clip-l clip-g t5; do help_check "eval clip-l|clip-g|t5" "$flag" eval "$enc"; done
  help_check "eval encode-prompt" "$flag" eval encode-prompt
  for what in transformer t5 vae make-pipeline; do help_check "bench $what" "$flag" bench "$what"; done
done
# --help after other options, and a value that happens to be -h is a value
help_check "generate" --help generate --model x --prompt "a fox"
check "a value of -h is a value, not help" 2 "x: no such file" "$bin" generate --prompt -h --model x

unknown() {  # COMMAND...: the option --no-such-option is refused with a pointer to --help
  local shown="$*"
  check "unknown option: $shown" 2 "unknown option --no-such-option (see paradit $shown --help)" \
    "$bin" "$@" --no-such-option 1
  check "unknown option last: $shown" 2 "unknown option --no-such-option (see paradit $shown --help)" \
    "$bin" "$@" --no-such-option
}
for cmd in generate serve info tokenize plan; do unknown "$cmd"; done
for enc in transformer clip-l clip-g t5 encode-prompt; do unknown eval "$enc"; done
for what in transformer t5 vae make-pipeline; do unknown bench "$what"; done
check "unknown argument to version" 2 "unexpected argument 'x' (see paradit version --help)" "$bin" version x
check "unknown command" 2 "unknown command 'frobnicate' (see paradit --help)" "$bin" frobnicate
check "unknown eval component" 2 "see paradit eval --help" "$bin" eval frobnicate
check "unknown benchmark" 2 "see paradit bench --help" "$bin" bench frobnicate
check "a missing value is named" 2 "option --model needs a value (see paradit generate --help)" "$bin" generate --model
check "no command: usage on stderr" 2 "usage: paradit <command>" "$bin"
summary
