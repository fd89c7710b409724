# shellcheck shell=bash
# cutover.sh — what the cutover scripts (rds-cutover, dns-cutover, ses-relay) share: a timestamped
# log of every action, a state file that records finished steps so a failed run resumes where it
# stopped, dry-run, confirmation before irreversible steps, masking of secrets, tool checks.
#
# Sourced, not run. The script parses its command line with `cutover_parse_options` (below),
# which sets the globals of the options every cutover script has, then calls `cutover_init NAME`
# before its first step:
#
#   CUTOVER_DRY_RUN=0|1     --dry-run: `run` prints each change (DRY-RUN: <cmd>) instead of making
#                           it; `state_set` and `step_mark` keep values in memory only
#   CUTOVER_YES=0|1         --yes: `confirm` does not ask
#   CUTOVER_STATE_DIR=DIR   --state-dir (default /var/lib/lampfarm/cutover, created mode 0700)
#   CUTOVER_LOG=FILE        --log (default $CUTOVER_STATE_DIR/NAME.log)
#
# Output: log lines ("<UTC ISO 8601> NAME: [WARNING: |ERROR: ]message") go to stderr and to the log
# file; the dry-run plan ("DRY-RUN: <cmd>") goes to stdout and to the log file. The log is written
# in a dry run too: it records what the run would have done.
#
# The library owns the EXIT trap (to say which step failed and how to resume, and to clean up):
# register clean-up with `cutover_atexit CMD` instead of setting a trap of your own.
# Step functions run in the script's shell (not a subshell), so what they `state_set` stays
# visible. Under `set -e` a failing command inside a step ends the script; the EXIT trap then
# names the step. Do not call `step` from inside `if`/`||` (bash would switch errexit off inside).

CUTOVER_DRY_RUN=${CUTOVER_DRY_RUN:-0}
CUTOVER_YES=${CUTOVER_YES:-0}
CUTOVER_NAME=${CUTOVER_NAME:-cutover}
CUTOVER_LOG=${CUTOVER_LOG:-}
CUTOVER_STATE_FILE=${CUTOVER_STATE_FILE:-}

_cutover_secrets=()
_cutover_atexit=()
_cutover_step=""
declare -A _cutover_mem=()    # state values set in this run (the only copy in a dry run)

_cutover_ts() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# mask_secret VALUE — VALUE (and any argument or message containing it) is shown as *** from now on.
mask_secret() {
    [ -n "${1:-}" ] && _cutover_secrets+=("$1")
    return 0
}

# _cutover_mask TEXT — TEXT with every declared secret replaced by ***.
_cutover_mask() {
    local s=$1 secret
    for secret in "${_cutover_secrets[@]}"; do
        s=${s//"$secret"/***}
    done
    printf '%s' "$s"
}

_cutover_write_log() {
    if [ -n "$CUTOVER_LOG" ]; then
        printf '%s\n' "$1" >>"$CUTOVER_LOG" 2>/dev/null || true
    fi
}

_cutover_log() {
    local line
    line="$(_cutover_ts) $CUTOVER_NAME: $(_cutover_mask "$*")"
    printf '%s\n' "$line" >&2
    _cutover_write_log "$line"
}

log_info() { _cutover_log "$*"; }
log_warn() { _cutover_log "WARNING: $*"; }
die() { _cutover_log "ERROR: $*"; exit 1; }
die_usage() { _cutover_log "ERROR: $* (see --help)"; exit 2; }

# need_tool TOOL [PACKAGE-HINT]
need_tool() {
    command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH: install ${2:-$1}"
}

# is_uint VALUE — 0 if VALUE is a whole number (digits only).
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

# --- the command line: the same convention in every cutover script -----------------------------
#
# An option's value follows it (`--zone example.com`) or is joined to it with "=" (`--zone=...`).
# The script has one `case` for its own options and words (the command), called once per item:
#
#   parse_option() {
#       case "$1" in
#           --zone) optarg; zone=$OPTVAL ;;        # an option with a value
#           --redo) redo=1 ;;                      # a flag
#           -*) die_usage "unknown option '$1'" ;;
#           *) cmd=$1 ;;                           # a word: the command
#       esac
#   }
#   cutover_parse_options parse_option "$@"
#
# The options every cutover script has are taken here: -h/--help (the script's `usage`, exit 0),
# --dry-run, --yes, --state-dir DIR, --log FILE. Errors are bad usage (exit 2): "--x needs a
# value" (none, or an empty one), "--x takes no value" (a flag given one with "=").

OPTVAL=""                  # the value of the option being parsed, once optarg took it
_cutover_opt=""            # the option being parsed
_cutover_optval=""         # the value there is for it: joined with "=", else the next item
_cutover_optval_from=none  # joined, next or none
_cutover_optval_used=0     # 1 once optarg took it

# optarg — for the option being parsed: its value into OPTVAL.
optarg() {
    if [ "$_cutover_optval_from" = none ] || [ -z "$_cutover_optval" ]; then
        die_usage "$_cutover_opt needs a value"
    fi
    OPTVAL=$_cutover_optval
    _cutover_optval_used=1
}

# cutover_parse_options HANDLER ARGS... — ARGS in order: the common options here, every other
# option and word through HANDLER ITEM (in this shell, so that what it sets stays set).
cutover_parse_options() {
    local handler=$1
    shift
    while [ "$#" -gt 0 ]; do
        _cutover_opt=$1 _cutover_optval="" _cutover_optval_from=none _cutover_optval_used=0
        shift
        case "$_cutover_opt" in
            --*=*)
                _cutover_optval=${_cutover_opt#*=} _cutover_optval_from=joined
                _cutover_opt=${_cutover_opt%%=*}
                ;;
            -*)
                if [ "$#" -gt 0 ]; then _cutover_optval=$1 _cutover_optval_from=next; fi
                ;;
        esac
        case "$_cutover_opt" in
            -h | --help) usage; exit 0 ;;
            --dry-run) CUTOVER_DRY_RUN=1 ;;
            --yes) CUTOVER_YES=1 ;;
            --state-dir) optarg; CUTOVER_STATE_DIR=$OPTVAL ;;
            --log) optarg; CUTOVER_LOG=$OPTVAL ;;
            *) "$handler" "$_cutover_opt" ;;
        esac
        if [ "$_cutover_optval_used" = 1 ]; then
            if [ "$_cutover_optval_from" = next ]; then shift; fi
        elif [ "$_cutover_optval_from" = joined ]; then
            die_usage "$_cutover_opt takes no value"
        fi
    done
}

# read_secret VAR FILE ENV-NAME OPTION — sets VAR to a secret: the first line of FILE (a trailing
# CR dropped) when FILE is given (OPTION names it in the error when it cannot be read), else the
# environment variable ENV-NAME; "" when there is none (the caller says whether that will do).
# Masked from now on. Call it plainly, not in $(...): the mask would stay in the subshell.
read_secret() {
    local _secret=""
    if [ -n "$2" ]; then
        [ -r "$2" ] || die "cannot read $2 ($4)"
        IFS= read -r _secret <"$2" || true    # a last line without a newline is read all the same
        _secret=${_secret%$'\r'}
    else
        _secret=${!3:-}
    fi
    mask_secret "$_secret"
    printf -v "$1" '%s' "$_secret"
}

# _cutover_show CMD ARGS... — the command on one line for the log: arguments that need it in
# single quotes, newlines shown as spaces, secrets masked.
_cutover_show() {
    local out="" a q="'" re='^[][A-Za-z0-9_./:=@%+,^-]+$'
    for a in "$@"; do
        a=$(_cutover_mask "$a")
        a=${a//$'\n'/ }
        if [[ "$a" =~ $re ]]; then
            :
        elif [[ "$a" != *"'"* ]]; then
            a="'$a'"
        elif [[ "$a" != *[\"\$\`\\]* ]]; then
            a="\"$a\""
        else
            a="'${a//$q/$q\\$q$q}'"
        fi
        out+="${out:+ }$a"
    done
    printf '%s' "$out"
}

# run CMD ARGS... — a change: logged, skipped in a dry run, else run and its exit code logged.
run() {
    local shown rc
    shown=$(_cutover_show "$@")
    if [ "$CUTOVER_DRY_RUN" = 1 ]; then
        printf 'DRY-RUN: %s\n' "$shown"
        _cutover_write_log "$(_cutover_ts) $CUTOVER_NAME: DRY-RUN: $shown"
        return 0
    fi
    _cutover_log "run: $shown"
    rc=0
    "$@" || rc=$?
    _cutover_log "exit $rc: $shown"
    return "$rc"
}

# --- state file: KEY=VALUE lines; finished steps are step.NAME=<UTC time> ----------------------

state_get() {
    local key=$1 line val=""
    if [ -n "${_cutover_mem[$key]+x}" ]; then
        printf '%s' "${_cutover_mem[$key]}"
        return 0
    fi
    [ -f "$CUTOVER_STATE_FILE" ] || return 1
    local found=1
    while IFS= read -r line; do
        if [ "${line%%=*}" = "$key" ]; then
            val=${line#*=}
            found=0
        fi
    done <"$CUTOVER_STATE_FILE"
    [ "$found" = 0 ] || return 1
    printf '%s' "$val"
}

state_set() {
    local key=$1 val=$2 tmp line
    case "$key$val" in *$'\n'*) die "state_set: newline in $key" ;; esac
    _cutover_mem[$key]=$val
    [ "$CUTOVER_DRY_RUN" = 1 ] && return 0
    tmp=$(mktemp "$CUTOVER_STATE_FILE.XXXXXX") || die "cannot write $CUTOVER_STATE_FILE"
    if [ -f "$CUTOVER_STATE_FILE" ]; then
        while IFS= read -r line; do
            [ "${line%%=*}" = "$key" ] || printf '%s\n' "$line"
        done <"$CUTOVER_STATE_FILE" >"$tmp"
    fi
    printf '%s=%s\n' "$key" "$val" >>"$tmp"
    mv -f "$tmp" "$CUTOVER_STATE_FILE" || die "cannot write $CUTOVER_STATE_FILE"
}

# state_unset KEY — forget KEY (e.g. a step that must run again); nothing in a dry run.
state_unset() {
    local key=$1 tmp line
    unset '_cutover_mem[$key]'
    [ "$CUTOVER_DRY_RUN" = 1 ] && return 0
    [ -f "$CUTOVER_STATE_FILE" ] || return 0
    tmp=$(mktemp "$CUTOVER_STATE_FILE.XXXXXX") || die "cannot write $CUTOVER_STATE_FILE"
    while IFS= read -r line; do
        [ "${line%%=*}" = "$key" ] || printf '%s\n' "$line"
    done <"$CUTOVER_STATE_FILE" >"$tmp"
    mv -f "$tmp" "$CUTOVER_STATE_FILE" || die "cannot write $CUTOVER_STATE_FILE"
}

# step_done STEP — 0 if the state file (not a dry run's memory) records STEP as done.
step_done() {
    [ -f "$CUTOVER_STATE_FILE" ] && grep -q "^step\.$1=" "$CUTOVER_STATE_FILE"
}

step_mark() {
    [ "$CUTOVER_DRY_RUN" = 1 ] && return 0
    state_set "step.$1" "$(_cutover_ts)"
}

# step NAME DESCRIPTION FUNCTION — run FUNCTION once: skipped when the state file records NAME as
# done, recorded as done when it succeeds; a failure names the step and ends the script.
step() {
    local name=$1 desc=$2 fn=$3 rc
    if step_done "$name"; then
        log_info "step $name: already done, skipping"
        return 0
    fi
    log_info "step $name: $desc"
    _cutover_step=$name
    # called plainly (not in a condition) so that errexit stays on inside the function
    "$fn"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        exit 1    # the EXIT trap names the step
    fi
    _cutover_step=""
    step_mark "$name"
    if [ "$CUTOVER_DRY_RUN" = 1 ]; then
        log_info "step $name: done (dry run: not recorded)"
    else
        log_info "step $name: done"
    fi
}

# confirm PROMPT — before an irreversible step.
confirm() {
    local answer
    if [ "$CUTOVER_DRY_RUN" = 1 ]; then
        printf 'DRY-RUN: would ask: %s\n' "$1"
        return 0
    fi
    if [ "$CUTOVER_YES" = 1 ]; then
        log_info "confirmed by --yes: $1"
        return 0
    fi
    if [ ! -t 0 ]; then
        die "refusing $1 without confirmation: re-run with --yes"
    fi
    printf '%s [y/N] ' "$1" >/dev/tty
    read -r answer </dev/tty || answer=""
    case "$answer" in
        y | Y | yes | YES)
            log_info "confirmed by the operator: $1"
            return 0
            ;;
    esac
    die "not confirmed: $1 (nothing done for it; re-run the same command to continue)"
}

# cutover_atexit CMD — run CMD (with eval) when the script exits, last registered first.
cutover_atexit() { _cutover_atexit=("$1" "${_cutover_atexit[@]}"); }

_cutover_on_exit() {
    local rc=$? c
    if [ "$rc" -ne 0 ] && [ -n "$_cutover_step" ]; then
        _cutover_log "ERROR: step $_cutover_step failed (exit $rc); fix the cause above and re-run" \
            "the same command to resume from this step (state: $CUTOVER_STATE_FILE)"
    fi
    for c in "${_cutover_atexit[@]}"; do
        eval "$c" || true
    done
    exit "$rc"
}

# cutover_tmpdir — sets CUTOVER_TMPDIR to a private (0700) temporary directory, removed at exit.
# Call it plainly, not as $(cutover_tmpdir): a subshell would lose the variable and the clean-up.
CUTOVER_TMPDIR=""
cutover_tmpdir() {
    [ -n "$CUTOVER_TMPDIR" ] && return 0
    CUTOVER_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/$CUTOVER_NAME.XXXXXX") ||
        die "cannot create a temporary directory in ${TMPDIR:-/tmp}"
    chmod 0700 "$CUTOVER_TMPDIR"
    # shellcheck disable=SC2016  # expanded at exit, by eval
    cutover_atexit 'rm -rf -- "$CUTOVER_TMPDIR"'
}

# cutover_init NAME — state directory, state file, log; the EXIT trap; one run at a time.
cutover_init() {
    CUTOVER_NAME=$1
    CUTOVER_STATE_DIR=${CUTOVER_STATE_DIR:-/var/lib/lampfarm/cutover}
    CUTOVER_STATE_FILE="$CUTOVER_STATE_DIR/$CUTOVER_NAME.state"
    CUTOVER_LOG=${CUTOVER_LOG:-$CUTOVER_STATE_DIR/$CUTOVER_NAME.log}
    trap _cutover_on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if [ ! -d "$CUTOVER_STATE_DIR" ]; then
        (umask 077 && mkdir -p "$CUTOVER_STATE_DIR") 2>/dev/null ||
            die "cannot create the state directory $CUTOVER_STATE_DIR: choose another with --state-dir"
    fi
    chmod 0700 "$CUTOVER_STATE_DIR" 2>/dev/null || true
    (umask 077 && : >>"$CUTOVER_LOG") 2>/dev/null ||
        die "cannot write the log $CUTOVER_LOG: choose another with --log or --state-dir"
    # one run at a time per state file: a second one (another terminal) stops at once
    if command -v flock >/dev/null 2>&1; then
        exec {_cutover_lock_fd}>>"$CUTOVER_STATE_DIR/$CUTOVER_NAME.lock"
        flock -n "$_cutover_lock_fd" ||
            die "another $CUTOVER_NAME run holds $CUTOVER_STATE_DIR/$CUTOVER_NAME.lock; wait for it"
    fi
}
