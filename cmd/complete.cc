// Shell completion.  `pach completion bash|zsh|fish` prints a small script
// whose only job is to call the hidden `pach __complete <words>...` (the
// last word being the one under the cursor) and offer what it prints, one
// candidate per line.  What a position takes is read from each command's
// usage text, the same text `pach CMD -h` prints and the man pages'
// SYNOPSIS is checked against, so completion follows the commands without
// a second table: literal words are subcommands; <repo>[@<branch>] is an
// address, :/<path> adds paths; <remote>, <pipeline>, <job>, <branch> and
// <command> are names from the store; anything else (<dir>, <file>) is left
// to the shell's file completion by printing nothing.
#include "cmd/cmd.h"
#include "plumbing/address.h"
#include "plumbing/meta.h"
#include "plumbing/tree_edit.h"
#include "porcelain/pipeline.h"
#include "porcelain/worktree.h"
#include "remote/remotes.h"
#include "runner/job.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace pach::cmd {


extern const char *const kUsage_completion =
	"usage: pach completion <shell>\n\n"
	"Print a completion script for <shell>: bash, zsh or fish.  Load it from the shell's\n"
	"start-up file, e.g. in ~/.bashrc:  source <(pach completion bash)\n"
	"Completion covers commands, options, repos, repo@branches, paths in\n"
	"commits (repo@branch:/path), pipelines, remotes and job ids.\n";

static const char kBash[] = R"SH(# pach completion for bash: source <(pach completion bash)
_pach_complete() {
	local line="${COMP_LINE:0:$COMP_POINT}" IFS=$' \t\n'
	local -a words
	read -r -a words <<<"$line"
	case "$line" in *[[:space:]]) words+=("") ;; esac
	local cur="${words[${#words[@]}-1]}" out c
	out=$(command pach __complete "${words[@]:1}" 2>/dev/null) || return 0
	COMPREPLY=()
	local nospace=
	# readline replaces only the text from the last word-break character
	# (COMP_WORDBREAKS has ':' and, interactively, '@'; '@' and '$' stay
	# part of the word they start): offer just that.
	local pre= i wb="${COMP_WORDBREAKS-:}"
	for ((i = ${#cur} - 1; i >= 0; i--)); do
		case "$wb" in *"${cur:i:1}"*)
			case "${cur:i:1}" in [@\$]) pre="${cur:0:i}" ;; *) pre="${cur:0:i+1}" ;; esac
			break ;;
		esac
	done
	while IFS= read -r c; do
		[ -n "$c" ] || continue
		case "$c" in *[@/:]) nospace=1 ;; esac
		c="${c#"$pre"}"
		# Quoted for the command line (a path may hold spaces); ':' and
		# '@' stay as they are.
		printf -v c '%q' "$c"
		COMPREPLY+=("$c")
	done <<<"$out"
	[ -n "$nospace" ] && compopt -o nospace 2>/dev/null
	return 0
}
complete -o default -o bashdefault -F _pach_complete pach
)SH";

static const char kZsh[] = R"SH(#compdef pach
# pach completion for zsh: source <(pach completion zsh)
_pach() {
	local -a cands spaced bare
	local c
	cands=("${(@f)$(command pach __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
	for c in $cands; do
		[[ -z $c ]] && continue
		if [[ $c == *[@/:] ]]; then bare+=("$c"); else spaced+=("$c"); fi
	done
	if (( ${#bare} + ${#spaced} == 0 )); then
		_files
		return
	fi
	(( ${#bare} )) && compadd -S '' -- "${bare[@]}"
	(( ${#spaced} )) && compadd -- "${spaced[@]}"
	return 0
}
if (( $+functions[compdef] )); then
	compdef _pach pach
else
	autoload -Uz compinit && compinit -u && compdef _pach pach
fi
)SH";

static const char kFish[] = R"SH(# pach completion for fish: pach completion fish | source
function __pach_complete
	set -l words (commandline -opc) (commandline -ct)
	set -l out (command pach __complete $words[2..-1] 2>/dev/null)
	if test (count $out) -eq 0
		__fish_complete_path (commandline -ct)
	else
		printf '%s\n' $out
	end
end
complete -c pach -f -a '(__pach_complete)'
)SH";

int cmd_completion(Args &args)
{
	auto r = args.rest(1, 1);
	if (r[0] == "bash")
		fmt::print("{}", kBash);
	else if (r[0] == "zsh")
		fmt::print("{}", kZsh);
	else if (r[0] == "fish")
		fmt::print("{}", kFish);
	else
		die("no completion for the shell '{}' (bash, zsh or fish)", r[0]);
	return 0;
}

namespace {

// One usage line's positional slots.
struct Slot {
	std::string text;   // a literal word, or a placeholder with '<'
	bool repeat = false;
	bool literal() const { return text.find('<') == std::string::npos; }
};

// "pach remote add <name> <url> [--endpoint <url>]" -> [add] [<name>] [<url>]
std::vector<std::vector<Slot>> usage_lines(const char *usage, const std::string &cmd)
{
	std::vector<std::vector<Slot>> out;
	std::istringstream in(usage);
	std::string line;
	while (std::getline(in, line)) {
		auto p = line.find("pach " + cmd);
		if (p == std::string::npos || (line.compare(0, 6, "usage:") != 0 && line.find("or:") == std::string::npos))
			continue;
		std::string rest = line.substr(p + 5 + cmd.size());
		if (auto gap = rest.find("  "); gap != std::string::npos)
			rest = rest.substr(0, gap);   // a description after the usage
		std::istringstream toks(rest);
		std::string t;
		std::vector<Slot> slots;
		bool after_opt = false;
		int depth = 0;   // inside (...) alternatives of options
		while (toks >> t) {
			bool opt = t.find("-") == 0 || t.find("[-") == 0 || t.find("(-") == 0 || t == "|";
			if (t[0] == '(')
				depth++;
			bool closes = t.find(')') != std::string::npos;
			if (opt || (after_opt && t.find('<') != std::string::npos) || depth > 0) {
				after_opt = opt && t != "|" && t.find(']') == std::string::npos && !closes;
				if (closes)
					depth = std::max(0, depth - 1);
				continue;
			}
			after_opt = false;
			Slot s;
			s.repeat = t.find("...") != std::string::npos;
			s.text = t;
			slots.push_back(s);
		}
		out.push_back(slots);
	}
	return out;
}

// Options of a command, from its usage text; which ones take a value.
void usage_options(const char *usage, std::set<std::string> &all, std::set<std::string> &valued)
{
	std::istringstream in(usage);
	std::string t, prev;
	while (in >> t) {
		std::string clean;
		for (char c : t)
			if (c != '[' && c != ']' && c != '(' && c != ')' && c != ',' && c != '|')
				clean += c;
		if (clean.size() >= 2 && clean[0] == '-' && (std::isalpha((unsigned char)clean[1]) || clean[1] == '-')) {
			if (auto eq = clean.find('='); eq != std::string::npos)
				clean = clean.substr(0, eq);
			if (clean != "--" && clean.find("...") == std::string::npos)
				all.insert(clean);
		} else if (!clean.empty() && clean[0] == '<' && !prev.empty()) {
			valued.insert(prev);
		}
		prev = clean.size() >= 2 && clean[0] == '-' ? clean : "";
	}
}

struct Completer {
	std::string c_dir;
	std::unique_ptr<Store> store;
	std::vector<std::string> out;

	Store *st()
	{
		if (!store) {
			try {
				store = std::make_unique<Store>(Store::discover(c_dir));
			} catch (const Error &) {
				return nullptr;
			}
		}
		return store.get();
	}

	void add(const std::string &cand, const std::string &cur)
	{
		if (cand.compare(0, cur.size(), cur) == 0)
			out.push_back(cand);
	}

	std::vector<std::string> repos()
	{
		std::vector<std::string> v;
		Store *s = st();
		if (!s)
			return v;
		auto meta = s->ref(kMetaRef);
		if (!meta)
			return v;
		auto e = lookup_path(*s, s->read_commit(*meta).tree, {"repos"});
		if (e && e->is_dir())
			for (auto &k : s->read_tree(e->oid))
				v.push_back(k.name);
		return v;
	}

	std::vector<std::string> branches(const std::string &repo)
	{
		std::vector<std::string> v;
		Store *s = st();
		if (!s || !valid_repo_name(repo))
			return v;
		std::string pre = "refs/heads/" + repo + "/";
		for (auto &[name, oid] : s->refs(pre))
			v.push_back(name.substr(pre.size()));
		return v;
	}

	void address(const std::string &cur, bool paths)
	{
		auto at = cur.find('@');
		auto colon = cur.find(':');
		if (colon != std::string::npos && paths) {
			path_in_commit(cur, colon);
			return;
		}
		if (at == std::string::npos) {
			for (auto &r : repos())
				add(r + "@", cur);
			return;
		}
		std::string repo = cur.substr(0, at);
		for (auto &b : branches(repo))
			add(repo + "@" + b + (paths ? ":/" : ""), cur);
	}

	void path_in_commit(const std::string &cur, size_t colon)
	{
		Store *s = st();
		if (!s)
			return;
		std::string addr = cur.substr(0, colon), path = cur.substr(colon + 1);
		if (path.empty())
			path = "/";
		if (path[0] != '/')
			return;
		auto slash = path.rfind('/');
		std::string dir = path.substr(0, slash + 1);
		try {
			Address a = parse_address(addr + ":" + (dir == "/" ? "/" : dir.substr(0, dir.size() - 1)));
			Oid c = resolve_commit(*s, a);
			Oid tree = s->read_commit(c).tree;
			std::optional<TreeEntry> e = a.path.empty() ? TreeEntry{"", kModeDir, tree} : lookup_path(*s, tree, a.path);
			if (!e || !e->is_dir())
				return;
			std::string base = cur.substr(0, colon + 1) + dir;
			for (auto &k : s->read_tree(e->oid))
				add(base + k.name + (k.is_dir() ? "/" : ""), cur);
		} catch (const Error &) {
		}
	}

	void kind(const std::string &cmd, const std::string &ph, const std::string &cur)
	{
		if (ph.find("<repo>") != std::string::npos) {
			bool paths = ph.find("<path>") != std::string::npos;
			if (ph.find('@') == std::string::npos && !paths) {
				for (auto &r : repos())
					add(r, cur);
				return;
			}
			address(cur, paths);
		} else if (ph.find("<remote>") != std::string::npos || (cmd == "remote" && ph.find("<name>") != std::string::npos)) {
			if (Store *s = st())
				for (auto &r : remote::remote_list(*s))
					add(r.name, cur);
		} else if (ph.find("<pipeline>") != std::string::npos || (cmd == "pipeline" && ph.find("<name>") != std::string::npos)) {
			if (Store *s = st())
				for (auto &p : porcelain::pipeline_list(*s))
					add(p.spec.name, cur);
		} else if (cmd == "repo" && ph.find("<name>") != std::string::npos) {
			for (auto &r : repos())
				add(r, cur);
		} else if (ph.find("<job>") != std::string::npos) {
			if (Store *s = st())
				for (auto &j : runner::list_all_jobs(*s))
					add(j.id, cur);
		} else if (ph.find("<branch>") != std::string::npos) {
			std::string root = porcelain::find_worktree(c_dir.empty() ? "." : c_dir);
			if (root.empty() || !st())
				return;
			porcelain::Worktree wt(*store, root);
			for (auto &b : branches(wt.state().repo))
				add(b, cur);
		} else if (ph.find("<command>") != std::string::npos) {
			for (auto &c : commands())
				add(c.name, cur);
		} else if (ph.find("<shell>") != std::string::npos || cmd == "completion") {
			for (auto *sh : {"bash", "zsh", "fish"})
				add(sh, cur);
		} else if (ph.find("<key>") != std::string::npos) {
			for (auto *k : {"pach.runtime", "checkout.link", "user.name", "user.email", "run.jobs", "gc.reflogExpire",
					"remote.jobs", "remote.retrySeconds", "remote.partSizeMB", "run.executor", "run.remote",
					"slurm.partition", "slurm.account", "slurm.qos", "slurm.extraArgs", "slurm.output",
					"slurm.cache", "slurm.pach", "slurm.pollSeconds", "kubernetes.workerImage",
					"kubernetes.secret", "kubernetes.claim", "kubernetes.endpoint", "kubernetes.kubectl",
					"kubernetes.context", "kubernetes.namespace", "kubernetes.serviceAccount",
					"kubernetes.imagePullSecret", "kubernetes.ttlSeconds", "kubernetes.pollSeconds"})
				add(k, cur);
		}
	}

	void option_value(const std::string &cmd, const std::string &opt, const std::string &cur)
	{
		if (opt == "--link")
			for (auto *m : {"auto", "copy", "reflink", "hardlink"})
				add(m, cur);
		else if (opt == "--runtime")
			for (auto *m : {"local", "bwrap", "runc", "crun", "podman", "docker"})
				add(m, cur);
		else if (opt == "--executor")
			for (auto *m : {"local", "slurm", "kubernetes"})
				add(m, cur);
		else if (opt == "--remote" && cmd == "run") {
			if (Store *s = st())
				for (auto &r : remote::remote_list(*s))
					add(r.name, cur);
		} else if (opt == "--pipeline" || opt == "-p")
			kind(cmd, "<pipeline>", cur);
		else if (opt == "--job")
			kind(cmd, "<job>", cur);
		else if (opt == "--to") {
			if (Store *s = st())
				for (auto &[ref, oid] : s->refs("refs/pach/snapshots/"))
					add(ref.substr(20), cur);
		} else if (opt == "--state")
			for (auto *m : {"success", "skipped", "failed", "recovered"})
				add(m, cur);
	}

	void run(std::vector<std::string> w)
	{
		if (w.empty())
			w.push_back("");
		std::string cur = w.back();
		w.pop_back();
		size_t i = 0;
		for (; i < w.size() && w[i].size() > 1 && w[i][0] == '-'; i++)
			if (w[i] == "-C" && i + 1 < w.size())
				c_dir = w[++i];
		if (i == w.size()) {
			if (i > 0 && w[i - 1] == "-C")
				return;   // a directory: the shell's
			if (!cur.empty() && cur[0] == '-') {
				for (auto *o : {"-C", "-q", "--quiet", "--help", "--version"})
					add(o, cur);
				return;
			}
			// Porcelain first, as git's completion; all if none matches.
			for (auto &c : commands())
				if (c.category == Category::porcelain && std::string(c.name) != "completion")
					add(c.name, cur);
			if (out.empty())
				for (auto &c : commands())
					add(c.name, cur);
			return;
		}
		std::string cmd = w[i];
		const char *usage = nullptr;
		for (auto &c : commands())
			if (cmd == c.name)
				usage = c.usage;
		if (!usage)
			return;
		std::set<std::string> opts, valued;
		usage_options(usage, opts, valued);
		std::vector<std::string> pos;
		bool dashdash = false;
		for (size_t k = i + 1; k < w.size(); k++) {
			if (!dashdash && w[k] == "--") {
				dashdash = true;
				continue;
			}
			if (!dashdash && w[k].size() > 1 && w[k][0] == '-') {
				if (valued.count(w[k]) && w[k].find('=') == std::string::npos)
					k++;
				continue;
			}
			pos.push_back(w[k]);
		}
		if (!w.empty() && w.size() > i + 1 && valued.count(w.back())) {
			option_value(cmd, w.back(), cur);
			return;
		}
		if (!cur.empty() && cur[0] == '-' && !dashdash) {
			for (auto &o : opts)
				add(o, cur);
			return;
		}
		std::set<std::string> seen;
		for (auto &slots : usage_lines(usage, cmd)) {
			bool ok = true;
			size_t s = 0;
			for (size_t k = 0; k < pos.size() && ok; k++) {
				if (s >= slots.size()) {
					ok = false;
					break;
				}
				if (slots[s].literal() && slots[s].text != pos[k])
					ok = false;
				if (!slots[s].repeat)
					s++;
			}
			if (!ok || s >= slots.size())
				continue;
			const Slot &sl = slots[s];
			if (sl.literal()) {
				std::string word = sl.text;
				word.erase(std::remove_if(word.begin(), word.end(), [](char c) { return c == '[' || c == ']' || c == '(' || c == ')'; }), word.end());
				for (auto &alt : {word})
					add(alt, cur);
			} else if (seen.insert(sl.text).second) {
				kind(cmd, sl.text, cur);
			}
		}
		std::sort(out.begin(), out.end());
		out.erase(std::unique(out.begin(), out.end()), out.end());
	}
};

} // namespace

// Hidden: `pach __complete <word>...`.  Never fails loudly: a shell
// completion must not print errors into the user's command line.
int complete_main(const std::vector<std::string> &words)
{
	Completer c;
	try {
		c.run(words);
	} catch (...) {
		return 0;
	}
	for (auto &o : c.out)
		fmt::print("{}\n", o);
	return 0;
}

} // namespace pach::cmd
