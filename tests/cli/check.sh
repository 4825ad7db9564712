# Shared by the CLI test scripts: check NAME EXPECTED_EXIT PATTERN COMMAND... runs COMMAND and
# passes when it exits EXPECTED_EXIT and its output matches PATTERN; counts into
# $passed / $failures, and `summary` prints the closing line and sets the exit status.
passed=0
failures=0
check() {
  local name="$1" want="$2" pattern="$3"
  shift 3
  local out code
  out="$("$@" 2>&1)"
  code=$?
  if [ "$code" != "$want" ] || ! grep -q -- "$pattern" <<<"$out"; then
    echo "FAIL $name: exit $code (want $want), output: $out"
    failures=$((failures + 1))
  else
    echo "ok   $name"
    passed=$((passed + 1))
  fi
}
summary() {
  echo "$passed passed, $failures failed"
  [ "$failures" -eq 0 ]
}
