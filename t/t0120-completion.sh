#!/bin/sh
test_description='shell completion: pach completion bash|zsh|fish over pach __complete'
. ./test-lib.sh

test_expect_success setup '
	pach init && pach repo create images && pach repo create labels &&
	mkdir -p src/raw && echo 1 >src/raw/one.png && echo 2 >src/raw/two.png && echo x >src/top.txt &&
	echo 3 >"src/raw/my pic.png" &&
	pach commit images src -m first >/dev/null && pach branch images dev master >/dev/null &&
	mkdir rem && pach remote add origin "file://$PWD/rem" &&
	cat >up.yaml <<-\EOF &&
	pipeline: {name: upper}
	runtime: local
	transform: {cmd: [sh, -c, "cp -r /pfs/images/. /pfs/out/"]}
	input: {pfs: {repo: images, glob: "/"}}
	EOF
	pach pipeline create -f up.yaml && pach run >/dev/null &&
	pach job list --json >jobs.json &&
	python3 -c "import json; print(json.load(open(\"jobs.json\"))[0][\"id\"])" >job.id
'

# Complete a command line in real bash, the way readline calls the
# function (COMP_LINE, COMP_POINT, COMP_WORDS; COMP_WORDBREAKS as in an
# interactive shell, with ':' and '@').  Prints COMPREPLY, one per line:
# what readline puts in place of the text after the last word break.
bash_complete() {
	bash --norc --noprofile -c '
		COMP_WORDBREAKS="${COMP_WORDBREAKS%@}@"
		source <(pach completion bash) || exit 1
		COMP_LINE="$1"; COMP_POINT=${#1}
		COMP_WORDS=($1); COMP_CWORD=$((${#COMP_WORDS[@]}-1))
		_pach_complete pach
		[ ${#COMPREPLY[@]} = 0 ] || printf "%s\n" "${COMPREPLY[@]}"
	' sh "$1" | sort
}

test_expect_success 'bash: command names (porcelain first), options' '
	bash_complete "pach com" >out && echo commit >want && test_cmp want out &&
	bash_complete "pach ls-" >out && echo ls-tree >want && test_cmp want out &&
	bash_complete "pach commit --me" >out && echo --message >want && test_cmp want out &&
	bash_complete "pach checkout --link " >out && printf "auto\ncopy\nhardlink\nreflink\n" >want && test_cmp want out
'

test_expect_success 'bash: repos, repo@ -> branches, paths inside a commit' '
	bash_complete "pach cat ima" >out && echo images@ >want && test_cmp want out &&
	bash_complete "pach cat images@" >out && printf "@dev:/\n@master:/\n" >want && test_cmp want out &&
	bash_complete "pach log images@d" >out && echo @dev >want && test_cmp want out &&
	bash_complete "pach branch " >out && printf "images\nlabels\nupper\n" >want && test_cmp want out &&
	bash_complete "pach ls images@master:/" >out && printf "/raw/\n/top.txt\n" >want && test_cmp want out &&
	bash_complete "pach cat images@master:/raw/t" >out && echo /raw/two.png >want && test_cmp want out &&
	bash_complete "pach cat images@master:/raw/m" >out && echo "/raw/my\\ pic.png" >want && test_cmp want out
'

test_expect_success 'bash: subcommands, pipelines, remotes, job ids' '
	bash_complete "pach pipeline ins" >out && echo inspect >want && test_cmp want out &&
	bash_complete "pach pipeline inspect " >out && echo upper >want && test_cmp want out &&
	bash_complete "pach push " >out && echo origin >want && test_cmp want out &&
	bash_complete "pach remote show o" >out && echo origin >want && test_cmp want out &&
	bash_complete "pach job inspect " >out && test_cmp job.id out &&
	bash_complete "pach logs --pipeline " >out && echo upper >want && test_cmp want out &&
	bash_complete "pach run --executor " >out && printf "kubernetes\nlocal\nslurm\n" >want && test_cmp want out &&
	bash_complete "pach run --remote " >out && echo origin >want && test_cmp want out
'

test_expect_success 'bash: branches of the work tree for checkout inside one' '
	pach checkout images@master wt 2>/dev/null &&
	(cd wt && bash_complete "pach checkout d") >out && echo dev >want && test_cmp want out
'

test_expect_success 'bash: local paths are left to the shell; errors are silent' '
	bash_complete "pach commit images sr" >out && test_must_be_empty out &&
	here=$PWD && (cd / && pach __complete cat "images@" >"$here/out" 2>"$here/err"; echo $? >"$here/rc") &&
	test_must_be_empty out && test_must_be_empty err && test "$(cat rc)" = 0 &&
	pach __complete cat "nosuch@master:/" >out 2>err && test_must_be_empty out && test_must_be_empty err &&
	pach __complete nosuchcommand x >out 2>err && test_must_be_empty out && test_must_be_empty err
'

test_expect_success 'pach completion names its shells and refuses others' '
	pach completion bash | bash -n &&
	test_fatal pach completion tcsh && pach __complete completion "" >out &&
	printf "bash\nfish\nzsh\n" >want && test_cmp want out
'

# Interactive shells in tmux: type, press Tab, read the screen.
command -v tmux >/dev/null && test_set_prereq TMUX
command -v zsh >/dev/null && test_set_prereq ZSH
command -v fish >/dev/null && test_set_prereq FISH
sock="pach-t0120-$$"

tmux_start() {
	tmux -L "$sock" -f /dev/null new-session -d -s t -x 160 -y 20 -c "$PWD" \
		env -i HOME="$HOME" PATH="$PATH" TERM=screen "$@"
}
tmux_keys() { tmux -L "$sock" send-keys -t t "$@"; }
# Wait (up to 10 s) until the screen shows a line matching $1.
tmux_wait() {
	i=0
	while [ $i -lt 100 ]; do
		tmux -L "$sock" capture-pane -p -t t >screen 2>/dev/null
		grep -q -- "$1" screen && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo >&4 "screen never showed: $1"
	cat screen >&4
	return 1
}
tmux_stop() { tmux -L "$sock" kill-server 2>/dev/null; true; }

test_expect_success TMUX 'interactive bash: pach com<TAB> and pach cat images@<TAB>' '
	pach branch -d images dev >/dev/null 2>&1 || pach branch images --delete dev >/dev/null 2>&1 || true &&
	test_when_finished tmux_stop &&
	tmux_start bash --norc --noprofile -i &&
	tmux_keys "PS1=\"ready> \"" Enter && tmux_wait "^ready>$" &&
	tmux_keys "source <(pach completion bash) && PS1=\"go> \"" Enter && tmux_wait "^go>$" &&
	tmux_keys "pach com" Tab && tmux_keys "Z" && tmux_wait "^go> pach commit Z$" &&
	tmux_keys C-u && tmux_keys "pach cat images@" Tab && tmux_keys "Z" &&
	tmux_wait "^go> pach cat images@master:/Z$" &&
	tmux_keys C-u && tmux_keys "pach cat images@master:/r" Tab && tmux_keys "Z" &&
	tmux_wait "^go> pach cat images@master:/raw/Z$" &&
	tmux_keys C-u && tmux_keys "pach cat images@master:/raw/m" Tab && tmux_keys "Z" &&
	tmux_wait "^go> pach cat images@master:/raw/my\\\\ pic.png Z$"
'

test_expect_success TMUX,ZSH 'interactive zsh: the same completions' '
	test_when_finished tmux_stop &&
	tmux_start zsh -f -i &&
	tmux_keys "PS1=\"ready> \"; autoload -Uz compinit && compinit -u" Enter && tmux_wait "^ready>$" &&
	tmux_keys "source <(pach completion zsh) && PS1=\"go> \"" Enter && tmux_wait "^go>$" &&
	tmux_keys "pach com" Tab && tmux_keys "Z" && tmux_wait "^go> pach commit Z$" &&
	tmux_keys C-u && tmux_keys "pach cat images@" Tab && tmux_keys "Z" &&
	tmux_wait "^go> pach cat images@master:/Z$"
'
test_have_prereq ZSH || say "# skipping the zsh test: zsh is not installed"

test_expect_success TMUX,FISH 'interactive fish: the same completions' '
	test_when_finished tmux_stop &&
	tmux_start fish --no-config -i &&
	tmux_keys "function fish_prompt; echo \"ready> \"; end" Enter && tmux_wait "^ready>$" &&
	tmux_keys "pach completion fish | source; function fish_prompt; echo \"go> \"; end" Enter &&
	tmux_wait "^go>$" &&
	tmux_keys "pach com" Tab && tmux_keys "Z" && tmux_wait "^go> pach commit Z$" &&
	tmux_keys C-u && tmux_keys "pach cat images@" Tab && tmux_keys "Z" &&
	tmux_wait "^go> pach cat images@master:/Z$"
'
test_have_prereq FISH || say "# skipping the fish test: fish is not installed"

test_done
