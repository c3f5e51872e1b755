#include "porcelain/undo.h"
#include "plumbing/crash.h"

#include "plumbing/address.h"
#include "plumbing/config.h"
#include "plumbing/error.h"
#include "plumbing/lg2.h"
#include "plumbing/meta.h"
#include "plumbing/number.h"
#include "plumbing/quote.h"
#include "plumbing/tree_edit.h"
#include "porcelain/commit.h"
#include "porcelain/history.h"
#include "porcelain/pipeline.h"
#include "runner/spec.h"


#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <ctime>
#include <set>
#include <sstream>

namespace pach::porcelain {

static std::string label_of(const std::string &ref)
{
	if (ref == kMetaRef)
		return "(metadata)";
	if (ref.compare(0, 11, "refs/heads/") == 0) {
		std::string rest = ref.substr(11);
		auto slash = rest.find('/');
		if (slash != std::string::npos)
			return rest.substr(0, slash) + "@" + rest.substr(slash + 1);
	}
	if (ref.compare(0, strlen(kSnapshotPrefix), kSnapshotPrefix) == 0)
		return "snapshot " + ref.substr(strlen(kSnapshotPrefix));
	return ref;
}

std::vector<ReflogLine> reflog(const Store &s, const std::string &repo, const std::string &branch)
{
	std::vector<std::string> refs;
	if (!repo.empty() && !branch.empty()) {
		refs.push_back(branch_ref(repo, branch));
	} else {
		std::string pre = repo.empty() ? "refs/heads/" : "refs/heads/" + repo + "/";
		for (auto &r : logged_refs(s))
			if (r.compare(0, pre.size(), pre) == 0 || (repo.empty() && r == kMetaRef))
				refs.push_back(r);
	}
	std::vector<ReflogLine> out;
	for (auto &r : refs) {
		auto log = read_reflog(s, r);
		for (size_t i = 0; i < log.size(); i++)
			out.push_back({r, label_of(r), log.size() - 1 - i, log[i]});
	}
	// Newest first; within one second, the later line of a log first.
	std::stable_sort(out.begin(), out.end(), [](const ReflogLine &a, const ReflogLine &b) {
		if (a.e.when != b.e.when)
			return a.e.when > b.e.when;
		if (a.ref == b.ref)
			return a.index < b.index;
		return false;
	});
	return out;
}

static void pfs_inputs(const runner::Input &in, std::vector<std::pair<std::string, std::string>> &out)
{
	if (in.kind == runner::Input::pfs)
		out.push_back({in.pfs_in.repo, in.pfs_in.branch});
	for (auto &c : in.children)
		pfs_inputs(c, out);
}

std::vector<std::string> pipelines_fed_by(const Store &s, const std::string &repo, const std::string &branch)
{
	auto all = pipeline_list(s);
	std::vector<std::string> out;
	std::set<std::pair<std::string, std::string>> changed{{repo, branch}};
	for (bool grew = true; grew;) {
		grew = false;
		for (auto &p : all) {
			if (std::find(out.begin(), out.end(), p.spec.name) != out.end())
				continue;
			std::vector<std::pair<std::string, std::string>> ins;
			pfs_inputs(p.spec.input, ins);
			for (auto &i : ins)
				if (changed.count(i)) {
					out.push_back(p.spec.name);
					changed.insert({p.spec.name, p.spec.output_branch});
					grew = true;
					break;
				}
		}
	}
	return out;
}

static std::string join(const std::vector<std::string> &v)
{
	std::string s;
	for (auto &x : v)
		s += (s.empty() ? "" : ", ") + x;
	return s;
}

void reset_branch(Store &s, const std::string &repo, const std::string &branch, const Oid &to, bool force)
{
	std::string ref = branch_ref(repo, branch);
	auto cur = s.ref(ref);
	if (!cur)
		die("branch '{}' not found in repo '{}'", branch, repo);
	if (s.object_type(to) != ObjType::commit)
		die("{} is not a commit", to.hex());
	auto fed = pipelines_fed_by(s, repo, branch);
	if (!fed.empty() && !force)
		die("{}@{} feeds pipelines ({}), whose outputs would be recomputed by the next 'pach run'; "
		    "use --force to reset anyway",
		    repo, branch, join(fed));
	if (*cur == to)
		return;
	if (!s.cas_ref(ref, to, cur, "reset: moving to " + to.hex()))
		die_conflict("{}@{} moved while resetting it; try again", repo, branch);
}

// Content of a blob, for a text merge (bounded: larger files do not merge).
static std::optional<std::string> text_of(const Store &s, const TreeEntry &e)
{
	constexpr uint64_t kMax = 32ull << 20;
	auto r = s.odb().open(e.oid);
	if (!r || r->size() > kMax || e.mode == kModeLink)
		return std::nullopt;
	std::string out((size_t)r->size(), '\0');
	size_t got = 0;
	while (got < out.size()) {
		size_t n = r->read(out.data() + got, out.size() - got);
		if (!n)
			break;
		got += n;
	}
	out.resize(got);
	if (out.find('\0') != std::string::npos)
		return std::nullopt;
	return out;
}

static bool same_entry(const std::optional<TreeEntry> &a, const TreeEntry &b)
{
	if (!b.mode)
		return !a;
	return a && a->mode == b.mode && a->oid == b.oid;
}

Oid revert_commit(Store &s, const std::string &repo, const std::string &branch, const Oid &commit)
{
	CommitInfo c = s.read_commit(commit);
	if (c.parents.size() > 1)
		die("{} is a merge; pach reverts single-parent commits", commit.hex().substr(0, 12));
	Oid parent_tree = c.parents.empty() ? empty_tree_oid() : s.read_commit(c.parents[0]).tree;
	auto changes = parent_tree == c.tree ? std::vector<Change>{} : diff_trees(s, parent_tree, c.tree);
	if (changes.empty())
		die("{} changed nothing; there is nothing to revert", commit.hex().substr(0, 12));
	std::string subject = first_line(c.message);
	std::string msg = "Revert \"" + subject + "\"\n\nThis reverts commit " + commit.hex() + ".\n";
	WriteLock lock(s);
	auto res = commit_edit(s, repo, branch, msg, [&](ObjectWriter &w, const std::optional<Oid> &base) {
		if (!base)
			die("branch '{}' of repo '{}' has no commits", branch, repo);
		std::vector<std::string> conflicts;
		Oid root = *base;
		for (auto &ch : changes) {
			auto path = split_path("/" + ch.path, ch.path);
			auto cur = lookup_path(w, root, path);
			if (cur && cur->is_dir())
				cur.reset(), conflicts.push_back(ch.path);
			std::optional<TreeEntry> want;   // the parent's version
			if (ch.old_e.mode)
				want = ch.old_e;
			if (same_entry(cur, ch.new_e)) {
				root = edit_tree(s, w, root, path, want);   // untouched since: take the parent's
				continue;
			}
			if ((want && same_entry(cur, *want)) || (!want && !cur))
				continue;   // already as before the commit
			// Changed since: a three-way text merge, the commit's version
			// as the base, the branch's as ours, the parent's as theirs.
			if (cur && want && ch.new_e.mode) {
				auto b = text_of(s, ch.new_e), o = text_of(s, *cur), t = text_of(s, *want);
				if (b && o && t) {
					if (auto merged = merge_file(*b, *o, *t)) {
						Oid blob = w.blob(merged->data(), merged->size());
						root = edit_tree(s, w, root, path, TreeEntry{"", cur->mode, blob});
						continue;
					}
				}
			}
			conflicts.push_back(ch.path);
		}
		if (!conflicts.empty())
			die("cannot revert {}: {} changed since in {}@{}{} (nothing was committed)",
			    commit.hex().substr(0, 12), "/" + conflicts[0], repo, branch,
			    conflicts.size() > 1 ? fmt::format(", and {} more path{}", conflicts.size() - 1,
							      conflicts.size() > 2 ? "s" : "")
						 : "");
		return root;
	});
	if (!res.commit)
		die("the changes of {} are already undone on {}@{}", commit.hex().substr(0, 12), repo, branch);
	return *res.commit;
}

// ---- snapshots ---------------------------------------------------------

static std::vector<std::pair<std::string, Oid>> snapshot_refs_now(const Store &s)
{
	auto refs = s.refs("refs/heads/");
	if (auto m = s.ref(kMetaRef))
		refs.push_back({kMetaRef, *m});
	return refs;
}

SnapshotInfo parse_snapshot_text(const std::string &name, const std::string &text)
{
	// Snapshots travel with pull: every line is checked, and a ref a
	// rollback would move must be one pach keeps.
	SnapshotInfo info;
	info.name = name;
	size_t i = 0, lineno = 0;
	auto bad = [&](const std::string &line) {
		die("snapshot '{}' is damaged (line {}: '{}')", quote_path(name), lineno, quote_path(line.substr(0, 80)));
	};
	while (i < text.size()) {
		size_t e = text.find('\n', i);
		if (e == std::string::npos)
			e = text.size();
		std::string line = text.substr(i, e - i);
		i = e + 1;
		lineno++;
		if (line.compare(0, 5, "time ") == 0) {
			auto t = parse_int64(line.substr(5));
			if (!t)
				bad(line);
			info.when = *t;
		} else if (line.compare(0, 5, "note ") == 0) {
			info.note = line.substr(5);
		} else if (line.compare(0, 8, "changed ") == 0) {
			if (!valid_store_ref(line.substr(8)))
				bad(line);
			info.changed.push_back(line.substr(8));
		} else if (line.compare(0, 4, "ref ") == 0) {
			auto o = line.size() > 45 && line[44] == ' ' ? Oid::from_hex(line.substr(4, 40)) : std::nullopt;
			if (!o || !valid_store_ref(line.substr(45)))
				bad(line);
			info.refs[line.substr(45)] = *o;
		} else if (!line.empty() && line[0] != '#') {
			bad(line);
		}
	}
	return info;
}

static SnapshotInfo parse_snapshot(const Store &s, const std::string &name, const Oid &commit)
{
	CommitInfo c = s.read_commit(commit);
	auto e = lookup_path(s, c.tree, {"refs"});
	if (!e || e->is_dir())
		die("snapshot '{}' is damaged (no refs file)", quote_path(name));
	auto r = s.odb().open(e->oid);
	if (!r || r->size() > (64u << 20))
		die("snapshot '{}' is damaged (its refs file is missing or too big)", quote_path(name));
	r.reset();
	SnapshotInfo info = parse_snapshot_text(name, s.odb().read_small(e->oid));
	info.commit = commit;
	return info;
}

SnapshotInfo snapshot_create(Store &s, const std::string &name_in, const std::string &note,
			     const std::vector<std::string> &changed, bool unique)
{
	int64_t now = time(nullptr);
	std::string name = name_in;
	if (name.empty()) {
		char buf[64];
		struct tm tm;
		time_t t = (time_t)now;
		gmtime_r(&t, &tm);
		strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
		name = buf;
	}
	if (!valid_branch_name(name))
		die("invalid snapshot name '{}'", name);
	std::string ref = kSnapshotPrefix + name;
	if (s.ref(ref)) {
		if (!name_in.empty() && !unique)
			die("snapshot '{}' already exists", name);
		for (int i = 2; s.ref(ref); i++)   // two unnamed ones in one second
			ref = kSnapshotPrefix + name + "-" + std::to_string(i);
		name = ref.substr(strlen(kSnapshotPrefix));
	}
	auto refs = snapshot_refs_now(s);
	std::string body = "# pach snapshot: the branches (and metadata) of a store\ntime " + std::to_string(now) + "\n";
	if (!note.empty())
		body += "note " + note + "\n";
	std::vector<Oid> parents;
	std::set<Oid> seen;
	for (auto &[r, o] : refs) {
		body += "ref " + o.hex() + " " + r + "\n";
		if (seen.insert(o).second)
			parents.push_back(o);
	}
	for (auto &c : changed)
		body += "changed " + c + "\n";
	WriteLock lock(s);
	ObjectWriter w(s, 1);
	Oid blob = w.blob(body.data(), body.size());
	Oid tree = w.tree({TreeEntry{"refs", kModeFile, blob}});
	Oid c = w.commit(tree, parents, s.author(), s.committer(), "snapshot " + name + "\n");
	w.finish();
	if (!s.cas_ref(ref, c, std::nullopt, "snapshot: " + name))
		die("snapshot '{}' already exists", name);
	return parse_snapshot(s, name, c);
}

std::vector<SnapshotInfo> snapshot_list(const Store &s)
{
	std::vector<SnapshotInfo> out;
	for (auto &[ref, oid] : s.refs(kSnapshotPrefix))
		out.push_back(parse_snapshot(s, ref.substr(strlen(kSnapshotPrefix)), oid));
	std::stable_sort(out.begin(), out.end(), [](auto &a, auto &b) { return a.when < b.when; });
	return out;
}

std::optional<SnapshotInfo> snapshot_get(const Store &s, const std::string &name)
{
	if (!valid_branch_name(name))
		return std::nullopt;
	auto o = s.ref(kSnapshotPrefix + name);
	if (!o)
		return std::nullopt;
	return parse_snapshot(s, name, *o);
}

// ---- rollback ----------------------------------------------------------

static bool in_scope(const std::string &ref, const std::vector<std::string> &repos)
{
	if (repos.empty())
		return ref.compare(0, 11, "refs/heads/") == 0 || ref == kMetaRef;
	for (auto &r : repos)
		if (ref.compare(0, 11 + r.size() + 1, "refs/heads/" + r + "/") == 0)
			return true;
	return false;
}

// The rollbacks made here, oldest first, as "<snapshot commit> <name>"
// lines in .pach/pach/rollbacks.  Only these drive `--undo`: snapshots
// travel with push and pull, and one received from a remote (whatever
// its "changed" lines say) must never decide what an undo moves.
static std::string rollbacks_file(const Store &s)
{
	return s.path("pach/rollbacks");
}

static void record_local_rollback(Store &s, const SnapshotInfo &snap)
{
	mkdir_p(s.path("pach"));
	std::string p = rollbacks_file(s);
	Fd f(::open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644));
	if (!f)
		die_errno("unable to open '" + p + "'");
	std::string line = snap.commit.hex() + " " + snap.name + "\n";
	write_full(f.get(), line.data(), line.size(), p);
	fsync_or_die(f.get(), p);
}

static std::optional<SnapshotInfo> last_local_rollback(const Store &s)
{
	std::string text;
	try {
		text = read_file_small(rollbacks_file(s));
	} catch (const Error &) {
		return std::nullopt;
	}
	std::vector<std::pair<std::string, std::string>> recs;
	size_t i = 0;
	while (i < text.size()) {
		size_t e = text.find('\n', i);
		if (e == std::string::npos)
			break;   // a line cut short by a crash
		std::string line = text.substr(i, e - i);
		i = e + 1;
		if (line.size() > 41 && line[40] == ' ')
			recs.push_back({line.substr(0, 40), line.substr(41)});
	}
	for (auto it = recs.rbegin(); it != recs.rend(); ++it) {
		if (!valid_branch_name(it->second))
			continue;
		auto sn = snapshot_get(s, it->second);
		if (sn && sn->commit.hex() == it->first && !sn->changed.empty())
			return sn;
	}
	return std::nullopt;
}

RollbackResult rollback(Store &s, const RollbackTarget &t, const std::vector<std::string> &repos, bool dry_run)
{
	for (auto &r : repos) {
		check_repo_name(r);
		bool known = repo_exists(s, r);
		for (auto &l : logged_refs(s))
			known = known || l.compare(0, 11 + r.size() + 1, "refs/heads/" + r + "/") == 0;
		if (!known)
			die("repo '{}' not found", r);
	}
	RollbackResult res;
	std::map<std::string, std::optional<Oid>> target;
	std::string what;
	std::set<std::string> scope_refs;
	for (auto &[r, o] : snapshot_refs_now(s))
		if (in_scope(r, repos))
			scope_refs.insert(r);
	if (t.undo || !t.snapshot.empty()) {
		std::optional<SnapshotInfo> snap;
		if (t.undo) {
			snap = last_local_rollback(s);
			if (!snap)
				die("no rollback to undo");
			what = "undo of the rollback saved as '" + snap->name + "'";
		} else {
			snap = snapshot_get(s, t.snapshot);
			if (!snap)
				die("snapshot '{}' not found (see 'pach snapshot list')", t.snapshot);
			what = "snapshot " + snap->name;
		}
		// An undo touches only what its rollback moved.
		std::set<std::string> refs;
		if (t.undo)
			refs.insert(snap->changed.begin(), snap->changed.end());
		else {
			refs = scope_refs;
			for (auto &[r, o] : snap->refs)
				refs.insert(r);
		}
		for (auto &r : refs) {
			if (!t.undo && !in_scope(r, repos))
				continue;
			auto it = snap->refs.find(r);
			target[r] = it == snap->refs.end() ? std::nullopt : std::optional<Oid>(it->second);
		}
	} else {
		char tb[64];
		time_t tt = (time_t)*t.time;
		struct tm tmv;
		gmtime_r(&tt, &tmv);
		strftime(tb, sizeof tb, "%Y-%m-%dT%H:%M:%SZ", &tmv);
		what = tb;
		std::set<std::string> refs = scope_refs;
		for (auto &r : logged_refs(s))
			if (in_scope(r, repos))
				refs.insert(r);
		for (auto &r : refs) {
			auto v = ref_at(read_reflog(s, r), *t.time);
			if (!v) {
				res.unknown.push_back(r);
				continue;
			}
			target[r] = *v;
		}
	}
	for (auto &[r, to] : target) {
		auto cur = s.ref(r);
		if (cur == to)
			continue;
		if (to && s.object_type(*to) == ObjType::none)
			die("cannot roll {} back to {}: the commit is gone (expired by gc)", label_of(r), to->hex().substr(0, 12));
		res.changes.push_back({r, cur, to});
	}
	if (dry_run || res.changes.empty())
		return res;
	// The state before, saved first: `--undo` (or a rollback to it)
	// brings back exactly what this one moves, even if it is cut short.
	std::vector<std::string> changed;
	for (auto &c : res.changes)
		changed.push_back(c.ref);
	char buf[64];
	time_t now = time(nullptr);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(buf, sizeof buf, "before-rollback-%Y%m%dT%H%M%SZ", &tm);
	auto saved = snapshot_create(s, buf, "rollback to " + what, changed, true);
	res.saved = saved.name;
	record_local_rollback(s, saved);
	std::string msg = "rollback: to " + what;
	for (auto &c : res.changes) {
		bool ok = c.to ? s.cas_ref(c.ref, *c.to, c.from, msg) : s.delete_ref(c.ref, c.from, msg);
		crash_point("rollback-ref");
		if (!ok)
			die_conflict("{} moved during the rollback; the state before is saved as snapshot '{}' "
				     "('pach rollback --undo' restores it)",
				     label_of(c.ref), res.saved);
	}
	return res;
}

// ---- gc ------------------------------------------------------------------

std::vector<Oid> reflog_roots(Store &s, bool expire)
{
	int64_t keep = 30 * 86400;
	if (auto v = config_get(&s, "gc.reflogExpire")) {
		auto d = parse_duration(*v);
		if (!d)
			die("invalid gc.reflogExpire '{}' (e.g. '30 days', 'never', 'now')", *v);
		keep = *d;
	}
	int64_t now = time(nullptr);
	int64_t cutoff = keep == INT64_MAX ? INT64_MIN : keep == 0 ? INT64_MAX : now - keep;
	std::vector<Oid> out;
	for (auto &r : logged_refs(s)) {
		if (expire)
			expire_reflog(s, r, cutoff, s.ref(r).has_value());
		for (auto &e : read_reflog(s, r)) {
			if (e.when < cutoff)
				continue;
			for (auto &o : {e.old_oid, e.new_oid})
				if (o && s.object_type(*o) != ObjType::none)
					out.push_back(*o);
		}
	}
	return out;
}

} // namespace pach::porcelain
