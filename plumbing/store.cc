#include "plumbing/store.h"

#include "plumbing/config.h"
#include "plumbing/reflog.h"

#include "plumbing/error.h"
#include "plumbing/git.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <thread>

namespace pach {

static git_oid to_git(const Oid &o)
{
	git_oid g;
	std::memcpy(g.id, o.b.data(), 20);
	return g;
}

static Oid from_git(const git_oid *g)
{
	Oid o;
	std::memcpy(o.b.data(), g->id, 20);
	return o;
}

std::string Signature::format() const
{
	int m = tz_minutes < 0 ? -tz_minutes : tz_minutes;
	return fmt::format("{} <{}> {} {}{:02}{:02}", name, email, when, tz_minutes < 0 ? '-' : '+', m / 60,
			   m % 60);
}

std::string Store::init(const std::string &dir)
{
	git_global_setup();
	mkdir_p(dir);
	std::string gd = absolute_path(dir) + "/.pach";
	if (path_exists(gd))
		die("a pach store already exists in '{}'", gd);
	git_repository *r = nullptr;
	git_repository_init_options o = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
	o.initial_head = "pach-no-branch";
	git_check(git_repository_init_ext(&r, gd.c_str(), &o), "unable to create store '" + gd + "'");
	GitRepo repo_handle(r);
	git_config *c = nullptr;
	git_check(git_repository_config(&c, r), "unable to open store config");
	GitConfig cfg(c);
	git_config_set_int32(c, "pach.version", 1);
	// Ours are the only writers; never let a stray `git gc --auto` repack
	// multi-GiB blobs behind our back.
	git_config_set_int32(c, "gc.auto", 0);
	// Every ref update is logged, pach's own refs too: undo (pach reflog,
	// reset, rollback) reads these, and so does `git reflog`.
	git_config_set_string(c, "core.logAllRefUpdates", "always");
	mkdir_p(gd + "/pach");
	return gd;
}

std::string Store::discover(const std::string &c_dir)
{
	auto check = [](const std::string &d) -> std::optional<std::string> {
		std::string g = d + "/.pach";
		if (is_dir(g + "/objects") && path_exists(g + "/HEAD"))
			return g;
		// A work tree: a .pach file naming its store (pach checkout).
		struct stat st;
		if (lstat(g.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size < 4096) {
			std::string body = read_file_small(g);
			auto at = body.find("\nstore ");
			if (body.compare(0, 13, "pach worktree") == 0 && at != std::string::npos) {
				std::string store = body.substr(at + 7, body.find('\n', at + 1) - at - 7);
				if (is_dir(store + "/objects") && path_exists(store + "/HEAD"))
					return store;
				die("the store of the work tree '{}' is gone: '{}'", d, store);
			}
		}
		// -C may also name the .pach directory itself.
		if (is_dir(d + "/objects") && path_exists(d + "/HEAD") && path_exists(d + "/pach"))
			return d;
		return std::nullopt;
	};
	if (!c_dir.empty()) {
		struct stat st;
		if (stat(c_dir.c_str(), &st) < 0)
			die_errno("cannot change to '" + c_dir + "'");
		if (!S_ISDIR(st.st_mode))
			die("cannot change to '{}': Not a directory", c_dir);
		if (auto g = check(absolute_path(c_dir)))
			return *g;
		die("not a pach store: '{}' (run 'pach init' there first)", c_dir);
	}
	if (const char *e = getenv("PACH_DIR"); e && *e) {
		if (auto g = check(absolute_path(e)))
			return *g;
		die("not a pach store: '{}' (from $PACH_DIR)", e);
	}
	std::string d = absolute_path(".");
	for (;;) {
		if (auto g = check(d))
			return *g;
		if (d == "/" || d.empty())
			break;
		d = dirname_of(d);
	}
	die("not a pach store (or any of the parent directories): .pach");
}

struct Store::Lg2 {
	GitRepo repo;
	GitOdb odb;
};

Store::Store(const std::string &git_dir) : git_dir_(git_dir), lg2_(std::make_unique<Lg2>())
{
	if (!is_dir(git_dir + "/objects") || !path_exists(git_dir + "/HEAD"))
		die("not a pach store: '{}'", git_dir);
	odb_ = std::make_unique<ObjectDb>(git_dir + "/objects", [this](bool open) -> git_odb * {
		if (open)
			open_lg2();
		return lg2_->odb.get();
	});
}

void Store::open_lg2() const
{
	std::call_once(lg2_once_, [this] {
		git_global_setup();
		git_repository *r = nullptr;
		git_check(git_repository_open_bare(&r, git_dir_.c_str()), "unable to open store '" + git_dir_ + "'");
		lg2_->repo.reset(r);
		git_odb *o = nullptr;
		git_check(git_repository_odb(&o, r), "unable to open object database");
		lg2_->odb.reset(o);
	});
}

git_repository *lg2_repo(const Store &s)
{
	s.open_lg2();
	return s.lg2_->repo.get();
}

Store::~Store() = default;

void Store::refresh_objects()
{
	odb_->refresh(); // libgit2's view too
}

// Refs are read the way git stores them: a loose file (written by lock
// and rename, so never half-seen), else a line of packed-refs.
std::optional<Oid> Store::ref(const std::string &name) const
{
	std::string cur = name;
	for (int depth = 0; depth < 5; depth++) {
		std::string path = git_dir_ + "/" + cur;
		Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
		struct stat st;
		if (fd && fstat(fd.get(), &st) < 0)
			die_errno("unable to read ref '" + cur + "'");
		// A directory here is the prefix of other refs (r/x for r/x/y):
		// not a loose ref, so the packed refs decide.
		if (fd && S_ISDIR(st.st_mode))
			break;
		if (fd && !S_ISREG(st.st_mode))
			die("ref '{}' is not a regular file", cur);
		if (fd) {
			char buf[512];
			size_t n = read_full(fd.get(), buf, sizeof buf - 1, path);
			std::string c(buf, n);
			while (!c.empty() && (c.back() == '\n' || c.back() == ' ' || c.back() == '\r'))
				c.pop_back();
			if (c.compare(0, 5, "ref: ") == 0) {
				cur = c.substr(5);
				continue;
			}
			auto o = Oid::from_hex(c.substr(0, 40));
			if (!o || c.size() != 40)
				die("ref '{}' is corrupt", cur);
			return o;
		}
		if (errno != ENOENT && errno != ENOTDIR && errno != EISDIR)
			die_errno("unable to read ref '" + cur + "'");
		break;
	}
	Fd pf(::open((git_dir_ + "/packed-refs").c_str(), O_RDONLY | O_CLOEXEC));
	if (!pf)
		return std::nullopt;
	std::string packed = read_file_small(git_dir_ + "/packed-refs");
	size_t i = 0;
	while (i < packed.size()) {
		size_t nl = packed.find('\n', i);
		if (nl == std::string::npos)
			nl = packed.size();
		if (nl - i > 41 && packed[i] != '#' && packed[i] != '^' &&
		    packed.compare(i + 41, nl - i - 41, cur) == 0 && nl - i - 41 == cur.size())
			return Oid::from_hex(packed.substr(i, 40));
		i = nl + 1;
	}
	return std::nullopt;
}

// A ref's .lock is held open by its writer from creation to rename, so a
// lock no process has open was left by one that died (kill -9 mid-update).
// Only concluded when every process's descriptors could be read (as root,
// or with no other user's processes); otherwise the user is asked.
static bool lock_is_stale(const std::string &lock)
{
	DirStream proc("/proc");
	if (!proc)
		return false;
	bool open_somewhere = false, unsure = false;
	char buf[4096];
	while (auto *p = proc.next()) {
		if (!isdigit((unsigned char)p->d_name[0]))
			continue;
		DirStream d(std::string("/proc/") + p->d_name + "/fd");
		if (!d) {
			if (errno == EACCES)
				unsure = true;
			continue;
		}
		while (auto *f = d.next()) {
			ssize_t n = readlinkat(d.fd(), f->d_name, buf, sizeof buf - 1);
			if (n > 0 && lock.compare(0, std::string::npos, buf, (size_t)n) == 0)
				open_somewhere = true;
		}
	}
	return !open_somewhere && !unsure && path_exists(lock);
}

void Store::prepare_ref_update()
{
	if (ref_update_ready_)
		return;
	ref_update_ready_ = true;
	ensure_reflogs_enabled(*this);
	// libgit2 signs reflog entries with the repository's identity: make it
	// the committer pach uses (environment, pach config, git config).
	Signature c = committer();
	git_repository_set_ident(lg2_repo(*this), c.name.c_str(), c.email.c_str());
}

// pach keeps the logs of deleted refs; one in the way of a new ref's log
// (refs/heads/r/a's kept log when creating r/a/b, or r/a/b's when
// creating r/a) is moved to pach/deleted-logs/, where it stays readable.
static void clear_log_path(const Store &s, const std::string &name)
{
	auto move_aside = [&](const std::string &ref) {
		std::string from = s.path("logs/" + ref);
		std::string to = s.path("pach/deleted-logs/" + ref + "." + std::to_string(time(nullptr)));
		for (int i = 2; path_exists(to); i++)
			to = s.path("pach/deleted-logs/" + ref + "." + std::to_string(time(nullptr)) + "-" + std::to_string(i));
		mkdir_p(dirname_of(to));
		if (rename(from.c_str(), to.c_str()) < 0)
			warning("could not move the old log '" + from + "' aside: " + strerror(errno));
	};
	for (size_t sl = name.find('/', 5); sl != std::string::npos; sl = name.find('/', sl + 1)) {
		std::string up = name.substr(0, sl);
		struct stat st;
		if (lstat(s.path("logs/" + up).c_str(), &st) == 0 && S_ISREG(st.st_mode) && !s.ref(up))
			move_aside(up);
	}
	if (is_dir(s.path("logs/" + name)))
		move_aside(name);
}

bool Store::cas_ref(const std::string &name, const Oid &to, const std::optional<Oid> &expected,
		    const std::string &msg)
{
	prepare_ref_update();
	if (!expected)
		clear_log_path(*this, name);
	git_reference *out = nullptr;
	git_oid id = to_git(to);
	int rc;
	for (int attempt = 0;; attempt++) {
		if (expected) {
			git_oid cur = to_git(*expected);
			rc = git_reference_create_matching(&out, lg2_repo(*this), name.c_str(), &id, 1, &cur, msg.c_str());
		} else {
			rc = git_reference_create(&out, lg2_repo(*this), name.c_str(), &id, 0, msg.c_str());
		}
		// Someone holds the ref's .lock for the instant of their update.
		if (rc == GIT_ELOCKED && attempt < 200) {
			usleep(5000);
			continue;
		}
		std::string lock = git_dir_ + "/" + name + ".lock";
		if (rc == GIT_ELOCKED && attempt == 200 && lock_is_stale(lock)) {
			warning("removing '" + lock + "', left by a pach or git process that was killed");
			unlink(lock.c_str());
			continue;
		}
		break;
	}
	if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS || rc == GIT_ENOTFOUND)
		return false;
	if (rc == GIT_ELOCKED)
		die("unable to lock ref '{}': '{}.lock' exists; if no pach process is running, remove it",
		    name, git_dir_ + "/" + name);
	git_check(rc, "unable to update ref '" + name + "'");
	git_reference_free(out);
	return true;
}

bool Store::delete_ref(const std::string &name, const std::optional<Oid> &expected, const std::string &msg)
{
	prepare_ref_update();
	git_reference *r = nullptr;
	int rc = git_reference_lookup(&r, lg2_repo(*this), name.c_str());
	if (rc == GIT_ENOTFOUND)
		return false;
	git_check(rc, "unable to read ref '" + name + "'");
	GitRef ref(r);
	if (expected && (!git_reference_target(r) || from_git(git_reference_target(r)) != *expected))
		return false;
	Oid was = from_git(git_reference_target(r));
	// git drops a deleted ref's log; pach keeps it, plus a line for the
	// deletion, so the branch can be brought back (reflog, rollback).
	std::string log_file = path("logs/" + name), log;
	if (path_exists(log_file))
		log = read_file_small(log_file);
	rc = git_reference_delete(r);
	if (rc == GIT_EMODIFIED)
		return false;
	git_check(rc, "unable to delete ref '" + name + "'");
	if (!msg.empty()) {
		try {
			if (!log.empty()) {
				mkdir_p(dirname_of(log_file));
				write_file_atomic(log_file, log);
			}
			Signature c = committer();
			ReflogEntry e;
			e.old_oid = was;
			e.who = c.name + " <" + c.email + ">";
			e.when = time(nullptr);
			e.tz_minutes = c.tz_minutes;
			e.message = msg;
			append_reflog(*this, name, e);
		} catch (const Error &err) {
			warning(std::string("could not keep the log of deleted ref ") + name + ": " + err.what());
		}
	}
	return true;
}

std::vector<std::pair<std::string, Oid>> Store::refs(const std::string &prefix) const
{
	std::vector<std::pair<std::string, Oid>> out;
	git_reference_iterator *it = nullptr;
	std::string glob = prefix + "*";
	git_check(git_reference_iterator_glob_new(&it, lg2_repo(*this), glob.c_str()), "unable to list refs");
	GitRefIter iter(it);
	git_reference *r;
	while (git_reference_next(&r, it) == 0) {
		GitRef ref(r);
		if (const git_oid *t = git_reference_target(r))
			out.push_back({git_reference_name(r), from_git(t)});
	}
	std::sort(out.begin(), out.end());
	return out;
}

std::vector<TreeEntry> Store::read_tree(const Oid &tree) const
{
	// Known without being stored, as git knows it: a branch made empty, a
	// work tree with nothing staged, a root commit's parent side.
	if (tree == empty_tree_oid())
		return {};
	ObjType t;
	std::string raw = odb_->read_small(tree, &t);
	if (t != ObjType::tree)
		die("object {} is a {}, not a tree", tree.hex(), type_name(t));
	return parse_tree(raw, tree.hex());
}

static Signature parse_sig(const std::string &line)
{
	Signature s;
	auto lt = line.find('<'), gt = line.find('>');
	if (lt == std::string::npos || gt == std::string::npos)
		return s;
	s.name = line.substr(0, lt ? lt - 1 : 0);
	s.email = line.substr(lt + 1, gt - lt - 1);
	const char *p = line.c_str() + gt + 1;
	s.when = strtoll(p, const_cast<char **>(&p), 10);
	int tz = atoi(p);
	int sign = tz < 0 ? -1 : 1;
	tz = tz < 0 ? -tz : tz;
	s.tz_minutes = sign * (tz / 100 * 60 + tz % 100);
	return s;
}

CommitInfo Store::read_commit(const Oid &c) const
{
	ObjType t;
	std::string raw = odb_->read_small(c, &t);
	if (t != ObjType::commit)
		die("object {} is a {}, not a commit", c.hex(), type_name(t));
	CommitInfo ci;
	ci.id = c;
	size_t i = 0;
	while (i < raw.size()) {
		size_t nl = raw.find('\n', i);
		if (nl == std::string::npos)
			nl = raw.size();
		std::string line = raw.substr(i, nl - i);
		i = nl + 1;
		if (line.empty())
			break;
		if (line.compare(0, 5, "tree ") == 0)
			ci.tree = Oid::from_hex(line.substr(5)).value_or(Oid{});
		else if (line.compare(0, 7, "parent ") == 0)
			ci.parents.push_back(Oid::from_hex(line.substr(7)).value_or(Oid{}));
		else if (line.compare(0, 7, "author ") == 0)
			ci.author = parse_sig(line.substr(7));
		else if (line.compare(0, 10, "committer ") == 0)
			ci.committer = parse_sig(line.substr(10));
	}
	if (i < raw.size())
		ci.message = raw.substr(i);
	return ci;
}

ObjType Store::object_type(const Oid &o) const
{
	auto r = odb_->open(o);
	return r ? r->type() : ObjType::none;
}

Oid Store::resolve_commitish(const std::string &spec) const
{
	git_object *obj = nullptr;
	int rc = git_revparse_single(&obj, lg2_repo(*this), spec.c_str());
	if (rc == GIT_EAMBIGUOUS)
		die("short commit id '{}' is ambiguous", spec);
	if (rc < 0)
		die("unknown revision '{}'", spec);
	GitObject o(obj);
	git_object *peeled = nullptr;
	if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0)
		die("'{}' is not a commit", spec);
	GitObject p(peeled);
	return from_git(git_object_id(peeled));
}

static bool parse_date(const char *s, int64_t *when, int *tz)
{
	if (!s || !*s)
		return false;
	if (*s == '@')
		s++;
	char *end;
	long long w = strtoll(s, &end, 10);
	if (end == s)
		return false;
	*when = w;
	*tz = 0;
	while (*end == ' ')
		end++;
	if (*end == '+' || *end == '-') {
		int v = atoi(end + 1);
		*tz = (*end == '-' ? -1 : 1) * (v / 100 * 60 + v % 100);
	}
	return true;
}

static Signature make_sig(const Store &st, git_repository *repo, const char *name_env, const char *email_env,
			  const char *date_env)
{
	Signature s;
	const char *n = getenv(name_env), *e = getenv(email_env);
	// pach's own config first (the store's, then ~/.config/pach/config),
	// then git's (which also reads ~/.gitconfig).
	std::string pn, pe;
	if (!n)
		if (auto v = config_get(&st, "user.name"))
			pn = *v, n = pn.c_str();
	if (!e)
		if (auto v = config_get(&st, "user.email"))
			pe = *v, e = pe.c_str();
	git_config *cfg = nullptr;
	if ((!n || !e) && git_repository_config_snapshot(&cfg, repo) == 0) {
		GitConfig c(cfg);
		const char *v;
		if (!n && git_config_get_string(&v, cfg, "user.name") == 0)
			s.name = v;
		if (!e && git_config_get_string(&v, cfg, "user.email") == 0)
			s.email = v;
	}
	if (n)
		s.name = n;
	if (e)
		s.email = e;
	if (s.name.empty()) {
		const char *u = getenv("USER");
		s.name = u && *u ? u : "pach";
	}
	if (s.email.empty()) {
		char host[256] = "localhost";
		gethostname(host, sizeof host - 1);
		s.email = s.name + "@" + host;
	}
	if (!parse_date(getenv(date_env), &s.when, &s.tz_minutes)) {
		s.when = time(nullptr);
		struct tm lt;
		localtime_r(&s.when, &lt);
		s.tz_minutes = (int)(lt.tm_gmtoff / 60);
	}
	return s;
}

Signature Store::author() const
{
	return make_sig(*this, lg2_repo(*this), "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE");
}

Signature Store::committer() const
{
	return make_sig(*this, lg2_repo(*this), "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE");
}

std::unique_ptr<FileLock> Store::lock_shared()
{
	mkdir_p(git_dir_ + "/pach");
	auto l = std::make_unique<FileLock>(git_dir_ + "/pach/gc.lock", FileLock::shared);
	// A gc may have repacked while we waited: see the packs as they are now.
	refresh_objects();
	return l;
}

std::unique_ptr<FileLock> Store::lock_exclusive()
{
	mkdir_p(git_dir_ + "/pach");
	return std::make_unique<FileLock>(git_dir_ + "/pach/gc.lock", FileLock::exclusive);
}

void Store::clean_stale_temp()
{
	std::string pd = odb_->pack_dir();
	for (auto &n : dir_names(pd)) {
		if (n.compare(0, 4, "tmp_"))
			continue;
		// tmp_pack_<pid>-<n>: remove only if that process is gone.
		auto us = n.find('_', 4);
		if (us == std::string::npos)
			continue;
		pid_t pid = (pid_t)atoi(n.c_str() + us + 1);
		if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM))
			continue;
		unlink((pd + "/" + n).c_str());
	}
}

} // namespace pach
