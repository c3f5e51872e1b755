#include "porcelain/maint.h"
#include "plumbing/crash.h"
#include "porcelain/undo.h"
#include "porcelain/worktree.h"

#include "plumbing/error.h"
#include "plumbing/lineage.h"
#include "plumbing/monitor.h"
#include "plumbing/pack_copy.h"
#include "plumbing/progress.h"
#include "plumbing/quote.h"
#include "plumbing/stat_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_map>
#include <unordered_set>

namespace pach::porcelain {

namespace {

struct Reach {
	std::vector<std::pair<Oid, ObjType>> order;
	std::unordered_set<Oid, OidHash> seen;
};

// Every object reachable from every ref, each once.  Dies (or, with errs,
// records) when one is missing.
void reachable(Store &s, Reach &r, std::vector<std::string> *errs, const std::vector<Oid> &extra = {})
{
	std::vector<std::pair<Oid, ObjType>> stack;
	for (auto &oid : extra)
		stack.push_back({oid, ObjType::none});
	for (auto &[name, oid] : s.refs("refs/"))
		stack.push_back({oid, ObjType::none});
	// Work trees: their head and their index (staged, not committed).
	for (auto &oid : worktree_roots(s))
		stack.push_back({oid, ObjType::none});
	Progress p("Finding reachable objects", 0);
	while (!stack.empty()) {
		auto [o, want] = stack.back();
		stack.pop_back();
		if (!r.seen.insert(o).second)
			continue;
		ObjType t = want;
		if (t == ObjType::none || t == ObjType::commit || t == ObjType::tree) {
			std::string raw;
			try {
				raw = s.odb().read_small(o, &t);
			} catch (const Error &e) {
				if (!errs)
					throw;
				errs->push_back(fmt::format("missing or unreadable object {}: {}", o.hex(), e.what()));
				continue;
			}
			if (want != ObjType::none && t != want && errs)
				errs->push_back(fmt::format("object {} is a {}, expected a {}", o.hex(), type_name(t),
							    type_name(want)));
			try {
				if (t == ObjType::commit) {
					CommitInfo ci = s.read_commit(o);
					stack.push_back({ci.tree, ObjType::tree});
					for (auto &pa : ci.parents)
						stack.push_back({pa, ObjType::commit});
				} else if (t == ObjType::tree) {
					if (errs)
						for (auto &p : fsck_tree(raw, o.hex()))
							errs->push_back(fmt::format("tree {}: {}", o.hex(), quote_path(p)));
					for (auto &e : parse_tree_unchecked(raw, o.hex())) {
						if (e.mode == kModeGitlink)
							continue;
						stack.push_back({e.oid, e.is_dir() ? ObjType::tree : ObjType::blob});
					}
				}
			} catch (const Error &e) {
				// A corrupt commit or tree: report it, keep checking.
				if (!errs)
					throw;
				errs->push_back(fmt::format("corrupt {} {}: {}", type_name(t), o.hex(), e.what()));
			}
		}
		r.order.push_back({o, t});
		p.add(1);
	}
}

uint64_t dir_bytes(const std::string &dir)
{
	uint64_t total = 0;
	for (auto &n : dir_names(dir)) {
		std::string p = dir + "/" + n;
		struct stat st;
		if (lstat(p.c_str(), &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			total += dir_bytes(p);
		else
			total += (uint64_t)st.st_size;
	}
	return total;
}

Oid sha_of_file_prefix(int fd, uint64_t len, const std::string &what)
{
	Sha1 s;
	std::vector<char> b(1 << 20);
	uint64_t pos = 0;
	while (pos < len) {
		ssize_t r = pread(fd, b.data(), (size_t)std::min<uint64_t>(b.size(), len - pos), (off_t)pos);
		if (r <= 0)
			die_errno("unable to read '" + what + "'");
		s.update(b.data(), (size_t)r);
		pos += (uint64_t)r;
	}
	return s.final();
}

void remove_pack(const std::string &packdir, const std::string &name)
{
	std::string base = packdir + "/" + name;
	// The pack first: an idx without its pack is skipped by every reader.
	unlink((base + ".pack").c_str());
	unlink((base + ".idx").c_str());
	unlink((base + ".rev").c_str());
	unlink((base + ".bitmap").c_str());
}

} // namespace

bool auto_repack(Store &s)
{
	// The change that called it is in: a failure here is only a warning.
	try {
		return repack_small_packs(s);
	} catch (const Error &e) {
		warning(std::string("automatic repack failed: ") + e.what());
		return false;
	}
}

bool repack_small_packs(Store &s)
{
	auto small = [&] {
		std::vector<std::shared_ptr<Pack>> v;
		for (auto &p : s.odb().packs())
			if (p->get_fd() >= 0 && p->size < kTinyPack && !is_lineage_pack(p))
				v.push_back(p);
		return v;
	};
	if (small().size() <= kAutoPacks)
		return false;
	FileLock l(s.path("pach/repack.lock"), FileLock::exclusive, false);
	if (!l.held())
		return false; // another process is at it
	s.refresh_objects();
	auto packs = small();
	if (packs.size() <= kAutoPacks)
		return false;
	std::vector<Oid> objects;
	std::unordered_set<Oid, OidHash> seen;
	for (auto &p : packs)
		for (uint32_t i = 0; i < p->idx->count(); i++)
			if (seen.insert(p->idx->oid_at(i)).second)
				objects.push_back(p->idx->oid_at(i));
	auto fresh = copy_to_pack(s, s.odb().pack_dir(), objects, packs, "Repacking");
	for (auto &p : packs)
		if (!fresh || p->name != "pack-" + fresh->hex())
			remove_pack(s.odb().pack_dir(), p->name);
	fsync_dir(s.odb().pack_dir());
	s.refresh_objects();
	return true;
}

FsckReport fsck(Store &s)
{
	FsckReport rep;
	s.refresh_objects();
	// 1. Every pack and idx checksum.
	for (auto &p : s.odb().packs()) {
		rep.packs++;
		int fd = p->get_fd();
		struct stat st;
		fstat(fd, &st);
		if (st.st_size < 32) {
			rep.errors.push_back("pack '" + p->pack_path + "' is truncated");
			continue;
		}
		uint64_t len = (uint64_t)st.st_size - 20;
		Oid want;
		if (pread(fd, want.b.data(), 20, (off_t)len) != 20)
			rep.errors.push_back("unable to read trailer of '" + p->pack_path + "'");
		Progress pr("Checking pack " + p->name.substr(5, 12), 0, true);
		if (sha_of_file_prefix(fd, len, p->pack_path) != want)
			rep.errors.push_back("pack '" + p->pack_path + "' checksum mismatch");
		if (p->idx->pack_checksum() != want)
			rep.errors.push_back("idx of '" + p->pack_path + "' does not match its pack");
		Sha1 is;
		is.update(p->idx->data(), p->idx->size() - 20);
		Oid idx_sum;
		std::memcpy(idx_sum.b.data(), p->idx->data() + p->idx->size() - 20, 20);
		if (is.final() != idx_sum)
			rep.errors.push_back("idx '" + p->idx->path() + "' checksum mismatch");
	}
	// 2. Every reachable object: present, of the right type, and hashing
	// to its name.
	Reach r;
	reachable(s, r, &rep.errors);
	Progress pr("Checking objects", r.order.size(), true);
	std::vector<char> buf(1 << 20);
	for (auto &[o, t] : r.order) {
		auto rd = s.odb().open(o);
		if (!rd) {
			rep.errors.push_back("missing " + std::string(type_name(t)) + " " + o.hex());
			continue;
		}
		try {
			Sha1 h;
			auto hdr = object_header(rd->type(), rd->size());
			h.update(hdr.data(), hdr.size());
			uint64_t left = rd->size();
			while (left) {
				size_t n = rd->read(buf.data(), (size_t)std::min<uint64_t>(left, buf.size()));
				if (!n)
					die("object {} is truncated", o.hex());
				h.update(buf.data(), n);
				left -= n;
			}
			if (h.final() != o)
				rep.errors.push_back("hash mismatch for " + o.hex() + " (content is corrupt)");
			rep.bytes += rd->size();
		} catch (const Error &e) {
			rep.errors.push_back(std::string("object ") + o.hex() + ": " + e.what());
		}
		rep.objects++;
		pr.add(1, rd->size());
	}
	return rep;
}

GcReport gc(Store &s)
{
	auto lock = s.lock_exclusive();
	GcReport rep;
	std::string objdir = s.odb().dir();
	std::string packdir = s.odb().pack_dir();
	// Temp files, and a pack whose idx never came (a writer killed
	// between the two renames): with the exclusive lock no writer runs.
	for (auto &n : dir_names(packdir)) {
		bool orphan = n.size() > 10 && n.compare(0, 5, "pack-") == 0 && n.compare(n.size() - 5, 5, ".pack") == 0 &&
			      !path_exists(packdir + "/" + n.substr(0, n.size() - 5) + ".idx");
		if (!n.compare(0, 4, "tmp_") || orphan)
			unlink((packdir + "/" + n).c_str());
	}
	// The stat cache trusts its ids to exist; some are about to go.
	unlink(s.path(StatCache::kFile).c_str());
	forget_monitor_states(s);
	worktree_forget_caches(s);
	// Extracted blobs for work trees (see Materialiser): a cache; those
	// still hard-linked into a work tree cost nothing to keep.
	for (auto &n : dir_names(s.path("pach/cache"))) {
		std::string p = s.path("pach/cache/" + n);
		struct stat st;
		if (n[0] != '.' && lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1)
			unlink(p.c_str());
	}
	s.refresh_objects();
	rep.before = dir_bytes(objdir);
	auto packs = s.odb().packs();
	rep.packs_before = packs.size();

	prune_worktrees(s);
	Reach r;
	// Reflogs keep what they name until gc.reflogExpire (30 days): an
	// undone commit, a rolled-back state, stays recoverable until then.
	reachable(s, r, nullptr, reflog_roots(s, true));
	// Chunk lists of versions (plumbing/cdc.h) of blobs that go.
	for (auto &n : dir_names(s.path("pach/chunks"))) {
		auto o = Oid::from_hex(n);
		if (!o || !r.seen.count(*o))
			unlink(s.path("pach/chunks/" + n).c_str());
	}

	// Keep large packs whose every object is reachable: rewriting a
	// multi-GiB blob buys nothing.
	std::vector<std::shared_ptr<Pack>> keep;
	std::unordered_set<Oid, OidHash> in_kept;
	// Packs of a big file's versions (deltas, plumbing/lineage.h) keep
	// what is needed of them as deltas: re-encoding would store every
	// version whole.
	auto is_reachable = [&](const Oid &o) { return r.seen.count(o) > 0; };
	std::vector<std::shared_ptr<Pack>> lineages;
	for (auto &p : packs) {
		if (p->get_fd() < 0 || !is_lineage_pack(p))
			continue;
		std::vector<Oid> kept;
		LineageGc what = gc_lineage(s, p, is_reachable, kept);
		if (what == LineageGc::other)
			continue;
		lineages.push_back(p);
		if (what == LineageGc::keep)
			keep.push_back(p);
		in_kept.insert(kept.begin(), kept.end());
	}
	for (auto &p : packs) {
		if (std::find(lineages.begin(), lineages.end(), p) != lineages.end())
			continue;
		p->get_fd();
		bool all = true;
		for (uint32_t i = 0; i < p->idx->count() && all; i++)
			all = r.seen.count(p->idx->oid_at(i)) > 0;
		if (all && p->size >= ObjectWriter::kOwnPack) {
			keep.push_back(p);
			for (uint32_t i = 0; i < p->idx->count(); i++)
				in_kept.insert(p->idx->oid_at(i));
		}
	}
	std::vector<std::pair<Oid, ObjType>> todo;
	for (auto &x : r.order)
		if (!in_kept.count(x.first))
			todo.push_back(x);

	std::vector<std::shared_ptr<Pack>> rewrite;
	for (auto &p : packs)
		if (std::find(keep.begin(), keep.end(), p) == keep.end())
			rewrite.push_back(p);
	std::vector<Oid> objects;
	objects.reserve(todo.size());
	for (auto &x : todo)
		objects.push_back(x.first);
	std::optional<Oid> fresh = copy_to_pack(s, s.odb().pack_dir(), objects, rewrite, "Writing objects");
	rep.kept = r.order.size();
	uint64_t before_objs = 0;
	for (auto &p : packs)
		if (std::find(keep.begin(), keep.end(), p) == keep.end())
			before_objs += p->idx->count();
	// The new pack is durable; now the old ones can go.
	crash_point("gc-packed");
	for (auto &p : packs) {
		if (std::find(keep.begin(), keep.end(), p) != keep.end())
			continue;
		if (fresh && p->name == "pack-" + fresh->hex())
			continue;
		remove_pack(packdir, p->name);
		crash_point("gc-removing");
	}
	for (auto &n : dir_names(objdir)) {
		if (n.size() != 2 || !isxdigit((unsigned char)n[0]) || !isxdigit((unsigned char)n[1]))
			continue;
		std::string sub = objdir + "/" + n;
		for (auto &f : dir_names(sub)) {
			unlink((sub + "/" + f).c_str());
			rep.loose_removed++;
		}
		rmdir(sub.c_str());
	}
	fsync_dir(packdir);
	s.refresh_objects();
	before_objs += rep.loose_removed;
	rep.removed = before_objs > todo.size() ? before_objs - todo.size() : 0;
	rep.after = dir_bytes(objdir);
	rep.packs_after = s.odb().packs().size();
	return rep;
}

} // namespace pach::porcelain
