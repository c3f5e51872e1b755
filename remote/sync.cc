#include "remote/sync.h"
#include "plumbing/lineage.h"
#include "plumbing/crash.h"

#include "plumbing/address.h"
#include "plumbing/error.h"
#include "plumbing/pack_copy.h"
#include "plumbing/fs.h"
#include "plumbing/meta.h"
#include "plumbing/pack_writer.h"
#include "plumbing/progress.h"
#include "plumbing/number.h"
#include "plumbing/quote.h"
#include "remote/download.h"
#include "remote/walk.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_set>

namespace pach::remote {

using OidSet = std::unordered_set<Oid, OidHash>;

std::string ref_label(const std::string &ref)
{
	if (ref == kMetaRef)
		return "(metadata)";
	if (ref.compare(0, 20, "refs/pach/snapshots/") == 0)
		return "snapshot " + ref.substr(20);
	if (ref.compare(0, 11, "refs/heads/") == 0) {
		std::string rest = ref.substr(11);
		auto slash = rest.find('/');
		if (slash != std::string::npos)
			return rest.substr(0, slash) + "@" + rest.substr(slash + 1);
	}
	return ref;
}

// Breadth-first over the commit graph from `starts`, each commit once;
// visit(c) returns false to stop the whole walk, and `into(c)` whether to
// go on to c's parents.
void walk_commits(const Store &s, std::vector<Oid> starts, const std::function<bool(const Oid &)> &visit,
		  const std::function<bool(const Oid &)> &into)
{
	OidSet seen;
	std::deque<Oid> q(starts.begin(), starts.end());
	while (!q.empty()) {
		Oid c = q.front();
		q.pop_front();
		if (!seen.insert(c).second)
			continue;
		if (!visit(c))
			return;
		if (into && !into(c))
			continue;
		for (auto &p : s.read_commit(c).parents)
			q.push_back(p);
	}
}

bool is_ancestor(const Store &s, const Oid &anc, const Oid &desc)
{
	bool found = false;
	walk_commits(s, {desc}, [&](const Oid &c) { return !(found = c == anc); });
	return found;
}

std::string tracking_ref(const std::string &remote, const std::string &ref)
{
	return "refs/pach/remotes/" + remote + "/" + ref.substr(5);   // drop "refs/"
}

namespace {

std::optional<uint64_t> parse_size(const std::string &t)
{
	if (t.size() > 1 && t[0] == '0')
		return std::nullopt;
	return parse_uint64(t);
}

bool is_pack_name(const std::string &n)
{
	if (n.size() != 40)
		return false;
	for (char c : n)
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	return true;
}

} // namespace

// The remote's state is hostile input: its pack names become local file
// names and its refs become local refs.  Every line must be one pach
// writes, exactly; anything else refuses the whole remote.
State parse_state(const std::string &d, const std::string &where)
{
	State st;
	st.exists = true;
	size_t i = 0, lineno = 0;
	auto bad = [&](const std::string &line, const char *why) {
		die("remote '{}': bad state (line {}: {}): '{}'", where, lineno, why,
		    quote_path(line.substr(0, 80)));
	};
	while (i < d.size()) {
		size_t e = d.find('\n', i);
		if (e == std::string::npos)
			e = d.size();
		std::string line = d.substr(i, e - i);
		i = e + 1;
		lineno++;
		if (lineno == 1) {
			if (line != "pach-remote 1")
				die("remote '{}' holds something pach does not understand ('{}')", where,
				    quote_path(line.substr(0, 40)));
			continue;
		}
		if (line.compare(0, 5, "pack ") == 0) {
			auto sp = line.find(' ', 5);
			if (sp == std::string::npos)
				bad(line, "no size");
			std::string name = line.substr(5, sp - 5);
			auto size = parse_size(line.substr(sp + 1));
			if (!is_pack_name(name))
				bad(line, "a pack name is 40 lowercase hex digits");
			if (!size || *size < 32)
				bad(line, "bad pack size");
			if (!st.packs.emplace(name, *size).second)
				bad(line, "pack listed twice");
		} else if (line.compare(0, 4, "ref ") == 0) {
			auto oid = line.size() > 45 && line[44] == ' ' ? Oid::from_hex(line.substr(4, 40)) : std::nullopt;
			if (!oid || line.substr(4, 40) != oid->hex())
				bad(line, "bad object id");
			std::string ref = line.substr(45);
			if (!valid_store_ref(ref))
				bad(line, "not a ref pach keeps");
			if (!st.refs.emplace(ref, *oid).second)
				bad(line, "ref listed twice");
		} else if (!(line.empty() && i >= d.size())) {
			bad(line, "unknown line");
		}
	}
	if (lineno == 0)
		die("remote '{}' holds an empty state", where);
	return st;
}

namespace {

constexpr const char *kStateKey = "state";
constexpr const char *kLockKey = "lock";

} // namespace

State read_state(Backend &b)
{
	auto o = b.get(kStateKey);
	if (!o)
		return State{};
	State st = parse_state(o->data, b.describe());
	st.etag = o->etag;
	return st;
}

namespace {

std::string format_state(const State &st)
{
	std::string o = "pach-remote 1\n";
	for (auto &[n, sz] : st.packs)
		o += "pack " + n + " " + std::to_string(sz) + "\n";
	for (auto &[r, oid] : st.refs)
		o += "ref " + oid.hex() + " " + r + "\n";
	return o;
}


bool have_commit(const Store &s, const Oid &o)
{
	return s.odb().contains(o) && s.object_type(o) == ObjType::commit;
}

// Every tree and blob below a tree, into `out` (skipping what is in `skip`).
// An explicit stack: a tree's depth is data (it may have come from a remote).
void tree_closure(const Store &s, const Oid &root, const OidSet &skip, OidSet &seen, std::vector<Oid> *out)
{
	std::vector<Oid> stack{root};
	while (!stack.empty()) {
		Oid tree = stack.back();
		stack.pop_back();
		if (skip.count(tree) || !seen.insert(tree).second)
			continue;
		if (out)
			out->push_back(tree);
		auto kids = s.read_tree(tree);
		// Reversed onto the stack: subtrees come out in tree order, as before.
		for (auto it = kids.rbegin(); it != kids.rend(); ++it) {
			if (it->is_dir())
				stack.push_back(it->oid);
			else if (!skip.count(it->oid) && seen.insert(it->oid).second && out)
				out->push_back(it->oid);
		}
	}
}

// What the remote lacks: the commits from `tips` down to what the remote
// has (its tips that we know), and their trees and blobs minus those of
// the commits where the walk stopped.
std::vector<Oid> objects_to_send(const Store &s, const std::vector<Oid> &tips, const std::vector<Oid> &remote_tips,
				 OidSet &have)
{
	OidSet remote_commits;
	walk_commits(s, remote_tips, [&](const Oid &c) { return remote_commits.insert(c), true; });
	std::vector<Oid> commits;
	std::vector<Oid> boundary(remote_tips);
	walk_commits(
		s, tips,
		[&](const Oid &c) {
			if (remote_commits.count(c))
				boundary.push_back(c);
			else
				commits.push_back(c);
			return true;
		},
		[&](const Oid &c) { return !remote_commits.count(c); });
	std::vector<Oid> none;
	OidSet done_boundary;
	for (auto &b : boundary)
		if (done_boundary.insert(b).second)
			tree_closure(s, s.read_commit(b).tree, OidSet{}, have, nullptr);
	std::vector<Oid> out = commits;
	OidSet sent;
	for (auto &c : commits)
		tree_closure(s, s.read_commit(c).tree, have, sent, &out);
	return out;
}

// A local pack's entries sorted by offset, for copying raw bytes.

struct Upload {
	std::string name;            // checksum hex
	std::string pack_path, idx_path;
	uint64_t size = 0, idx_size = 0;
	bool temporary = false;      // built for this push: removed afterwards
};

uint64_t file_size(const std::string &p)
{
	struct stat st;
	if (::stat(p.c_str(), &st) < 0)
		die_errno("unable to stat '" + p + "'");
	return (uint64_t)st.st_size;
}

// Whole local packs whose every object is wanted go as they are; the
// rest of the wanted objects go into one new pack (raw bytes copied where
// the object is stored whole).
std::vector<Upload> packs_to_send(Store &s, std::vector<Oid> wanted, TransferStats &stats, const OidSet &have)
{
	std::vector<Upload> out;
	OidSet want(wanted.begin(), wanted.end());
	for (auto &p : s.odb().packs()) {
		uint32_t n = p->idx->count();
		if (!n)
			continue;
		bool all = true;
		for (uint32_t i = 0; i < n && all; i++)
			all = want.count(p->idx->oid_at(i)) > 0;
		if (!all)
			continue;
		for (uint32_t i = 0; i < n; i++)
			want.erase(p->idx->oid_at(i));
		Upload u;
		u.name = p->idx->pack_checksum().hex();
		u.pack_path = p->pack_path;
		u.idx_path = p->idx->path();
		u.size = file_size(u.pack_path);
		u.idx_size = file_size(u.idx_path);
		out.push_back(u);
		stats.objects += n;
	}
	if (want.empty())
		return out;
	std::vector<Oid> rest(want.begin(), want.end());
	std::sort(rest.begin(), rest.end());   // the same objects make the same pack: a retry resumes
	std::string dir = s.path("pach/push");
	mkdir_p(dir);
	// A new version of a big file the remote has an older version of goes
	// as a delta against it (a thin entry: pach-remote-format(5)).
	auto sum = copy_to_pack(s, dir, rest, s.odb().packs(), nullptr, [&](PackWriter &w, const Oid &o) {
		return write_version_for(s, w, o, [&](const Oid &x) { return have.count(x) > 0; });
	});
	Upload u;
	u.name = sum->hex();
	u.pack_path = dir + "/pack-" + u.name + ".pack";
	u.idx_path = dir + "/pack-" + u.name + ".idx";
	u.size = file_size(u.pack_path);
	u.idx_size = file_size(u.idx_path);
	u.temporary = true;
	stats.objects += rest.size();
	out.push_back(u);
	return out;
}

std::string random_token()
{
	std::random_device rd;
	std::string t;
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++)
		t += digits[rd() % 16];
	return t;
}

// For servers without conditional PUT: a lock object.  Taking it: wait
// while another live lock is there, write ours, wait `settle`, and read
// it back: if another pusher wrote after us, theirs is there and we go
// back to waiting.  Two pushers could both hold it only if one's write
// took longer than `settle` to land after its read saw no lock; the
// state is also re-read and compared under the lock, and read back after
// writing, so such a race is reported instead of silently losing a ref.
class RemoteLock {
public:
	explicit RemoteLock(Backend &b) : b_(b), token_(random_token()) {}
	~RemoteLock()
	{
		if (held_) {
			try {
				auto cur = b_.get(kLockKey);
				if (cur && cur->data.compare(0, token_.size(), token_) == 0)
					b_.remove(kLockKey);
			} catch (...) {
			}
		}
	}
	void acquire()
	{
		auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(b_.tuning.lock_wait_s);
		std::mt19937 rng(std::random_device{}());
		for (;;) {
			auto cur = b_.get(kLockKey);
			time_t now = time(nullptr);
			if (cur) {
				auto sp = cur->data.find(' ');
				time_t expires = sp == std::string::npos ? 0 : (time_t)atoll(cur->data.c_str() + sp + 1);
				if (expires > now) {
					if (std::chrono::steady_clock::now() > deadline)
						die("remote '{}' is locked by another push (until {}); if none is running, wait or "
						    "remove '{}'",
						    b_.describe(), utc_timestamp(expires), kLockKey);
					std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));
					continue;
				}
			}
			std::string mine = token_ + " " + std::to_string(now + 120) + "\n";
			b_.put(kLockKey, mine);
			std::this_thread::sleep_for(std::chrono::milliseconds(b_.tuning.lock_settle_ms));
			cur = b_.get(kLockKey);
			if (cur && cur->data == mine) {
				held_ = true;
				return;
			}
		}
	}

private:
	Backend &b_;
	std::string token_;
	bool held_ = false;
};

// Our updates against the remote's current refs: fast-forwards (or
// forced) stay, others are rejected.
void judge(const Store &s, std::vector<RefUpdate> &ups, const State &st, bool force)
{
	for (auto &u : ups) {
		auto it = st.refs.find(u.ref);
		u.old_oid = it == st.refs.end() ? std::nullopt : std::optional<Oid>(it->second);
		u.reason.clear();
		if (!u.old_oid) {
			u.status = "created";
		} else if (*u.old_oid == *u.new_oid) {
			u.status = "up-to-date";
		} else if (have_commit(s, *u.old_oid) && is_ancestor(s, *u.old_oid, *u.new_oid)) {
			u.status = "updated";
		} else if (force) {
			u.status = "forced";
		} else {
			u.status = "rejected";
			u.reason = have_commit(s, *u.old_oid) ? "non-fast-forward" : "fetch first";
		}
	}
}

} // namespace

std::vector<RefUpdate> push(Store &s, const RemoteConfig &rc, const PushOptions &o, TransferStats &stats)
{
	auto b = open_backend(rc);
	// What to push.
	std::vector<RefUpdate> ups;
	auto add = [&](const std::string &ref) {
		auto oid = s.ref(ref);
		if (!oid)
			return;
		for (auto &u : ups)
			if (u.ref == ref)
				return;
		RefUpdate u;
		u.ref = ref;
		u.new_oid = oid;
		ups.push_back(u);
	};
	if (o.what.empty()) {
		for (auto &[ref, oid] : s.refs("refs/heads/"))
			add(ref);
	} else {
		for (auto &w : o.what) {
			auto at = w.find('@');
			std::string repo = w.substr(0, at);
			if (at == std::string::npos) {
				auto refs = s.refs("refs/heads/" + repo + "/");
				if (refs.empty())
					die("repo '{}' has no branches to push", repo);
				for (auto &[ref, oid] : refs)
					add(ref);
			} else {
				std::string ref = branch_ref(repo, w.substr(at + 1));
				if (!s.ref(ref))
					die("branch '{}' not found", w);
				add(ref);
			}
		}
	}
	add(kMetaRef);
	// Snapshots travel too (they name states of every branch).
	for (auto &[ref, oid] : s.refs("refs/pach/snapshots/"))
		add(ref);

	State st = read_state(*b);
	judge(s, ups, st, o.force);
	bool any = std::any_of(ups.begin(), ups.end(), [](auto &u) { return u.status != "up-to-date" && u.status != "rejected"; });
	if (!any) {
		stats.requests = b->requests();
		record_transfer(s, "push", rc.name, stats);
		return ups;
	}

	// Objects the remote lacks, as packs.
	std::vector<Oid> tips, remote_tips;
	for (auto &u : ups)
		if (u.status != "up-to-date" && u.status != "rejected")
			tips.push_back(*u.new_oid);
	for (auto &[ref, oid] : st.refs)
		if (have_commit(s, oid))
			remote_tips.push_back(oid);
	auto lock = s.lock_shared();   // gc must not repack what we upload
	std::vector<Upload> uploads;
	OidSet have;
	auto wanted = objects_to_send(s, tips, remote_tips, have);
	if (!wanted.empty())
		uploads = packs_to_send(s, wanted, stats, have);
	struct Cleanup {
		std::vector<Upload> &u;
		~Cleanup()
		{
			for (auto &x : u)
				if (x.temporary) {
					::unlink(x.pack_path.c_str());
					::unlink(x.idx_path.c_str());
				}
		}
	} cleanup{uploads};

	uint64_t total = 0;
	for (auto &u : uploads)
		if (!st.packs.count(u.name))
			total += u.size + u.idx_size;
	b->clean_stale_uploads("packs/");
	Progress prog("Uploading packs", 0, true);
	prog.set_total_bytes(total);
	for (auto &u : uploads) {
		if (st.packs.count(u.name))
			continue;
		// Already there (a push that died before its state update)?
		std::string key = "packs/" + u.name;
		auto have_pack = b->size(key + ".pack");
		if (have_pack && *have_pack == u.size && b->size(key + ".idx") == std::optional<uint64_t>(u.idx_size)) {
			prog.add(0, u.size + u.idx_size);
			continue;
		}
		for (auto &[path, sz, ext] : {std::tuple{u.pack_path, u.size, ".pack"}, std::tuple{u.idx_path, u.idx_size, ".idx"}}) {
			Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
			if (!f)
				die_errno("unable to open '" + path + "'");
			b->put_file(key + ext, f.get(), sz, [&](uint64_t n) { prog.add(0, n); });
		}
		stats.packs++;
		stats.bytes += u.size + u.idx_size;
	}
	prog.done();

	// The state, last, by compare-and-swap; on a race, judge again
	// against what the other pusher left.
	std::unique_ptr<RemoteLock> rlock;
	for (int attempt = 0;; attempt++) {
		State next = st;
		for (auto &u : uploads)
			next.packs[u.name] = u.size;
		bool change = false;
		for (auto &u : ups)
			if (u.status == "created" || u.status == "updated" || u.status == "forced") {
				next.refs[u.ref] = *u.new_oid;
				change = true;
			}
		if (!change)
			break;
		std::string text = format_state(next);
		PutCondition c;
		if (!rlock) {
			c.kind = st.exists ? PutCondition::matches : PutCondition::absent;
			c.etag = st.etag;
		}
		crash_point("push-uploaded");   // packs on the remote, its state not yet
		PutStatus ps = b->put(kStateKey, text, c);
		if (ps == PutStatus::not_implemented) {
			// No conditional PUT here: take the lock, then check and write.
			rlock = std::make_unique<RemoteLock>(*b);
			rlock->acquire();
			st = read_state(*b);
			judge(s, ups, st, o.force);
			continue;
		}
		if (ps == PutStatus::ok && rlock) {
			// Read back: a pusher that raced past the lock would show here.
			State back = read_state(*b);
			if (format_state(back) != text)
				die("remote '{}' changed while this push held its lock; nothing was lost on this side: "
				    "fetch and push again",
				    b->describe());
		}
		if (ps == PutStatus::ok)
			break;
		if (attempt > 20)
			die("remote '{}' keeps changing; push again later", b->describe());
		st = read_state(*b);
		judge(s, ups, st, o.force);
	}
	rlock.reset();
	for (auto &u : ups)
		if (u.status == "created" || u.status == "updated" || u.status == "forced") {
			std::string t = tracking_ref(rc.name, u.ref);
			s.cas_ref(t, *u.new_oid, s.ref(t), "pach push " + rc.name);
		}
	stats.requests = b->requests();
	record_transfer(s, "push", rc.name, stats);
	return ups;
}

namespace {

// Every object reachable from `tip` is here (commits down to ones we
// already had whole, i.e. ones a local ref reaches).
void check_connected(const Store &s, const Oid &tip, const OidSet &known_commits, const std::string &what)
{
	OidSet seen;
	std::deque<Oid> q{tip};
	while (!q.empty()) {
		Oid c = q.front();
		q.pop_front();
		if (known_commits.count(c) || !seen.insert(c).second)
			continue;
		if (!s.odb().contains(c))
			die("{}: commit {} is missing; nothing was changed", what, c.hex());
		auto ci = s.read_commit(c);
		std::deque<Oid> t{ci.tree};
		while (!t.empty()) {
			Oid x = t.front();
			t.pop_front();
			if (!seen.insert(x).second)
				continue;
			if (!s.odb().contains(x))
				die("{}: object {} is missing; nothing was changed", what, x.hex());
			for (auto &e : s.read_tree(x)) {
				if (e.is_dir())
					t.push_back(e.oid);
				else if (seen.insert(e.oid).second && !s.odb().contains(e.oid))
					die("{}: object {} is missing; nothing was changed", what, e.oid.hex());
			}
		}
		for (auto &p : ci.parents)
			q.push_back(p);
	}
}

} // namespace

std::vector<RefUpdate> fetch(Store &s, const RemoteConfig &rc, TransferStats &stats)
{
	auto b = open_backend(rc);
	State st = read_state(*b);
	std::vector<RefUpdate> out;
	if (!st.exists) {
		stats.requests = b->requests();
		return out;
	}
	auto lock = s.lock_shared();
	bool all_here = true;
	for (auto &[ref, oid] : st.refs)
		all_here = all_here && s.odb().contains(oid);
	if (!all_here) {
		// Packs we lack: the idx says whether any object is new to us.
		std::vector<IncomingPack> in;
		for (auto &[name, size] : st.packs) {
			struct stat sb;
			if (::stat((s.odb().pack_dir() + "/pack-" + name + ".pack").c_str(), &sb) == 0)
				continue;
			std::string tmp = s.path("pach/tmp");
			mkdir_p(tmp);
			TempFile idx(tmp, "idx_");
			// Sizes as the remote stores them, not as its state claims:
			// a pack is downloaded only at the size it really has, and an
			// idx only as big as an index of such a pack can be.
			auto psz = b->size("packs/" + name + ".pack");
			if (!psz || *psz != size)
				die("remote '{}': pack {} is listed with {} bytes but {}", rc.name, name, size,
				    psz ? fmt::format("has {}", *psz) : std::string("is missing"));
			auto isz = b->size("packs/" + name + ".idx");
			if (!isz)
				die("remote '{}': pack {} is listed but its index is missing", rc.name, name);
			if (*isz < 1072 || *isz > 1072 + (size / 2) * 36)   // idx v2: 1032 + 28-36 per object + 40
				die("remote '{}': the index of pack {} has an impossible size ({} bytes)", rc.name, name, *isz);
			b->get_range("packs/" + name + ".idx", 0, *isz, idx.fd(), 0);
			idx.close_fd();
			bool missing = false;
			try {
				PackIndex pi(idx.path());
				for (uint32_t i = 0; i < pi.count() && !missing; i++)
					missing = !s.odb().contains(pi.oid_at(i));
			} catch (const Error &) {
				missing = true; // a bad idx: the pack itself will tell
			}
			if (missing) {
				in.push_back({name, size, ""});
			}
		}
		if (!in.empty())
			download_packs(s, *b, in, stats);
	}
	// Commits every local ref reaches are whole here already.
	OidSet known;
	for (auto &[ref, oid] : s.refs("refs/"))
		if (ref.compare(0, 18, "refs/pach/remotes/") != 0 && have_commit(s, oid))
			known.insert(oid);
	for (auto &[ref, oid] : st.refs)
		if (s.ref(tracking_ref(rc.name, ref)) != oid) // checked when it was fetched
			check_connected(s, oid, known, "remote '" + rc.name + "' (" + ref_label(ref) + ")");
	// Tracking refs follow the remote, gone ones included.
	std::set<std::string> remote_refs;
	for (auto &[ref, oid] : st.refs) {
		std::string t = tracking_ref(rc.name, ref);
		remote_refs.insert(t);
		auto cur = s.ref(t);
		RefUpdate u;
		u.ref = ref;
		u.old_oid = cur;
		u.new_oid = oid;
		if (cur == oid) {
			u.status = "up-to-date";
		} else {
			s.cas_ref(t, oid, cur, "pach fetch " + rc.name);
			u.status = !cur ? "created" : is_ancestor(s, *cur, oid) ? "updated" : "forced";
		}
		out.push_back(u);
	}
	for (auto &[t, oid] : s.refs("refs/pach/remotes/" + rc.name + "/"))
		if (!remote_refs.count(t)) {
			s.delete_ref(t, oid);
			RefUpdate u;
			u.ref = "refs/" + t.substr(("refs/pach/remotes/" + rc.name + "/").size());
			u.old_oid = oid;
			u.status = "deleted";
			out.push_back(u);
		}
	stats.requests = b->requests();
	record_transfer(s, "fetch", rc.name, stats);
	return out;
}

std::string transfers_path(const Store &s)
{
	return s.path("pach/transfers");
}

void record_transfer(const Store &s, const std::string &op, const std::string &remote, const TransferStats &st)
{
	std::string line = fmt::format("{} {} {} {} {} {} {}\n", (long long)time(nullptr), op, remote, st.bytes, st.objects,
				       st.packs, st.requests);
	// One write with O_APPEND: lines of concurrent transfers never mix.
	Fd fd(::open(transfers_path(s).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644));
	if (!fd || write(fd.get(), line.data(), line.size()) != (ssize_t)line.size())
		warning(fmt::format("unable to record the transfer in '{}': {}", transfers_path(s), strerror(errno)));
}

} // namespace pach::remote
