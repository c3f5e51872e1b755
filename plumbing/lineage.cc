// Versions of a big file: the newest whole, the older ones git deltas.
//
// git reads a delta only if its base is in the same pack, and a pack is
// immutable (its header counts its objects, its trailer hashes them all).
// So a file's versions live in one pack, its "lineage": when a new
// version of a big file is committed whose previous version is the whole
// object of such a pack, a new pack is written holding
//
//   1. the new version, whole, streamed and hashed as any big blob is
//      (and cut into chunks on the way: plumbing/cdc.h);
//   2. the previous version as a delta against it (REF_DELTA), from the
//      two chunk lists: its chunks the new version also has are copies,
//      the rest its own bytes;
//   3. the older versions' deltas, copied as they are (they name their
//      bases by id, so they stay valid);
//
// and the old pack goes once the new one is published.  What is written
// is the new version plus the difference, never a copy of an old version,
// and the version read most, the newest, is whole.  Older versions are
// reached through a chain (one link per later version), which readers
// compose into one map (plumbing/delta.h), so depth costs little; a
// lineage still stops at kMaxVersions and the next version starts a new
// one.
#include "plumbing/lineage.h"

#include "plumbing/cdc.h"
#include "plumbing/crash.h"
#include "plumbing/delta.h"
#include "plumbing/error.h"
#include "plumbing/progress.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace pach {

namespace {

constexpr uint32_t kMaxVersions = 48;
constexpr size_t kProbe = 8u << 20;

struct Entry {
	Oid oid;
	uint64_t off, len;
	int type;
};

// The objects of pack p, in pack order, with their raw lengths; empty if
// it is not a lineage (a whole blob, the rest REF_DELTAs).
std::vector<Entry> lineage_entries(const std::shared_ptr<Pack> &p, const Oid &top)
{
	uint32_t n = p->idx->count();
	if (n == 0 || n > kMaxVersions)
		return {};
	std::vector<Entry> es;
	for (uint32_t i = 0; i < n; i++)
		es.push_back({p->idx->oid_at(i), p->idx->offset_at(i), 0, 0});
	std::sort(es.begin(), es.end(), [](const Entry &a, const Entry &b) { return a.off < b.off; });
	int fd = p->get_fd();
	if (fd < 0 || p->size < 32)
		return {};
	for (size_t i = 0; i < es.size(); i++) {
		uint64_t end = i + 1 < es.size() ? es[i + 1].off : p->size - 20;
		if (end <= es[i].off)
			return {};
		es[i].len = end - es[i].off;
		uint64_t size;
		pack_entry_header(fd, es[i].off, &es[i].type, &size, p->pack_path);
		if (es[i].oid == top ? es[i].type != (int)ObjType::blob : es[i].type != 7)
			return {};
	}
	return es;
}

// Whether the new version (fd, from its current offset) shares enough
// with the previous one to be worth a lineage, judged on their first
// kProbe bytes: a quarter of its chunks among the old version's, or (an
// edit in place, such as a database's pages, which can touch most chunks)
// a quarter of its 64-byte blocks equal at the same offsets.
bool worth_a_delta(int fd, uint64_t size, const ChunkList &base, ObjectReader &prev)
{
	off_t at = lseek(fd, 0, SEEK_CUR);
	if (at < 0)
		return false;
	std::vector<unsigned char> buf((size_t)std::min<uint64_t>(size, kProbe));
	ssize_t r = pread(fd, buf.data(), buf.size(), at);
	if (r <= 0)
		return false;
	buf.resize((size_t)r);
	std::vector<unsigned char> old(std::min<uint64_t>(buf.size(), prev.size()));
	for (size_t got = 0; got < old.size();) {
		size_t k = prev.read(old.data() + got, old.size() - got);
		if (!k)
			break;
		got += k;
	}
	uint64_t blocks = 0, equal = 0;
	for (size_t i = 0; i + 64 <= old.size(); i += 64, blocks++)
		equal += std::memcmp(&buf[i], &old[i], 64) == 0;
	if (blocks && equal * 4 >= blocks)
		return true;
	Chunker c(base.bits);
	c.feed(buf.data(), buf.size());
	std::unordered_set<std::array<unsigned char, 32>, ChunkHash> have;
	for (auto &b : base.chunks)
		have.insert(b.sha);
	uint64_t same = 0, all = 0;
	for (auto &ch : c.out()) {
		all += ch.len;
		if (have.count(ch.sha))
			same += ch.len;
	}
	return all && same * 4 >= all;
}

} // namespace

// A blob's chunk list, from the cache or made (and kept) by reading it,
// with the chunk size its size calls for.
static std::optional<ChunkList> chunks_of(Store &s, const Oid &o, uint64_t size)
{
	ChunkCache cache(s.path("pach/chunks"));
	if (auto c = cache.load(o, size))
		return c;
	auto r = s.odb().open(o);
	if (!r)
		return std::nullopt;
	ChunkList c;
	c.bits = chunk_bits_for(size);
	c.chunks = chunk_stream(*r, c.bits);
	cache.save(o, c);
	return c;
}

std::optional<Oid> ObjectWriter::write_version(int fd, uint64_t size, const std::string &what, const Oid &prev,
					       const PackWriter::OnBytes &progress)
{
	// git's copy instruction addresses its base with 32 bits: a new version
	// of 4 GiB or more cannot be the base of the one before.
	if (size >= (1ull << 32))
		return std::nullopt;
	auto where = s_.odb().locate(prev);
	if (!where)
		return std::nullopt;
	auto &[pack, at] = *where;
	int type;
	uint64_t psize;
	pack_entry_header(pack->get_fd(), at, &type, &psize, pack->pack_path);
	if (type != (int)ObjType::blob || psize < kOwnPack)
		return std::nullopt;
	auto entries = lineage_entries(pack, prev);
	if (entries.empty())
		return std::nullopt;

	ChunkCache cache(s_.path("pach/chunks"));
	auto old_chunks = chunks_of(s_, prev, psize);
	if (!old_chunks)
		return std::nullopt;
	// A new file at the same path shares nothing: store it whole.
	if (probe_) {
		auto r = s_.odb().open(prev);
		if (!r || !worth_a_delta(fd, size, *old_chunks, *r))
			return std::nullopt;
	}

	trace_point("version: probed");
	auto own = std::make_unique<PackWriter>(s_.odb().pack_dir(), (uint32_t)entries.size() + 1);
	LevelGovernor gov;
	ThreadedChunker chunker(old_chunks->bits);
	Oid o = own->add_blob_stream(fd, size, what, gov, progress,
				     [&](const unsigned char *p, size_t n) { chunker.feed(p, n); });
	ChunkList new_chunks{old_chunks->bits, chunker.finish()};
	trace_point("version: written and chunked");
	if (seen_or_claim(o)) {
		own->abandon();
		return o;
	}
	auto ops = plan_delta(old_chunks->chunks, new_chunks.chunks);
	// The new version is read back from this pack (immutable), never from
	// the file, which might change under us.
	own->flush_buffer();
	auto tmp = std::make_shared<Pack>();
	tmp->pack_path = own->temp_path();
	int t;
	uint64_t sz;
	uint64_t data = pack_entry_header(tmp->get_fd(), 12, &t, &sz, tmp->pack_path);
	refine_delta(ops, random_reader([&] { return s_.odb().open(prev); }),
		     random_reader([&] { return open_pack_entry(tmp, data, ObjType::blob, size); }), size);
	uint64_t inserted = inserted_bytes(ops);
	trace_point("version: delta planned");
	int pfd = pack->get_fd();
	for (auto &e : entries) {
		// The older versions as they are; the previous one whole when too
		// different to be worth a delta.
		if (e.oid != prev || inserted * 2 > psize) {
			own->copy_raw(pfd, e.off, e.len, e.oid, pack->pack_path);
			continue;
		}
		auto r = s_.odb().open(prev);
		if (!r)
			die("object {} vanished while pach was reading it", prev.hex());
		DeltaEncoder enc(ops, size, psize, *r);
		LevelGovernor dgov;
		own->add_ref_delta(o, prev, delta_size(ops, size, psize),
				   [&](void *b, size_t n) { return enc.read(b, n); }, dgov);
	}
	trace_point("version: delta written");
	own->seal();
	trace_point("version: sealed");
	crash_point("version-written");
	cache.save(o, new_chunks);
	std::lock_guard<std::mutex> g(mu_);
	written_ += own->bytes();
	objects_++;
	sealed_.push_back(std::move(own));
	retired_.push_back(pack->pack_path);
	return o;
}

bool write_version_for(Store &s, PackWriter &w, const Oid &o, const std::function<bool(const Oid &)> &has)
{
	auto where = s.odb().locate(o);
	if (!where || !is_lineage_pack(where->first))
		return false;
	auto &[pack, at] = *where;
	int fd = pack->get_fd(), type;
	uint64_t size;
	pack_entry_header(fd, at, &type, &size, pack->pack_path);
	if (type != (int)ObjType::blob)
		return false;
	// The version before o: the delta whose base it is.
	std::optional<Oid> older;
	for (uint32_t i = 0; i < pack->idx->count() && !older; i++) {
		uint64_t off = pack->idx->offset_at(i), sz;
		uint64_t data = pack_entry_header(fd, off, &type, &sz, pack->pack_path);
		if (type != 7)
			continue;
		auto b = delta_base(pack, off, type, &data);
		if (b && b->id == o)
			older = pack->idx->oid_at(i);
	}
	if (!older || !has(*older))
		return false;
	auto base = s.odb().open(*older);
	if (!base || base->size() >= (1ull << 32))
		return false;
	uint64_t base_size = base->size();
	auto mine = chunks_of(s, o, size), theirs = chunks_of(s, *older, base_size);
	if (!mine || !theirs || mine->bits != theirs->bits)
		return false;
	auto ops = plan_delta(mine->chunks, theirs->chunks);
	refine_delta(ops, random_reader([&] { return s.odb().open(o); }),
		     random_reader([&] { return s.odb().open(*older); }), base_size);
	if (inserted_bytes(ops) * 2 > size)
		return false;
	auto r = s.odb().open(o);
	DeltaEncoder enc(ops, base_size, size, *r);
	LevelGovernor gov;
	w.add_ref_delta(*older, o, delta_size(ops, base_size, size), [&](void *b, size_t n) { return enc.read(b, n); },
			gov);
	return true;
}

bool is_lineage_pack(const std::shared_ptr<Pack> &p)
{
	int fd = p->get_fd();
	uint32_t n = p->idx->count();
	if (fd < 0 || n < 2 || n > kMaxVersions)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		int type;
		uint64_t size;
		pack_entry_header(fd, p->idx->offset_at(i), &type, &size, p->pack_path);
		if (type == 7)
			return true;
	}
	return false;
}

LineageGc gc_lineage(Store &s, const std::shared_ptr<Pack> &p, const std::function<bool(const Oid &)> &reachable,
		     std::vector<Oid> &kept)
{
	if (!is_lineage_pack(p))
		return LineageGc::other;
	int fd = p->get_fd();
	uint32_t n = p->idx->count();
	struct E {
		Oid oid, base;
		uint64_t off, len = 0;
		bool delta;
	};
	std::vector<E> es;
	std::unordered_map<Oid, size_t, OidHash> at;
	for (uint32_t i = 0; i < n; i++)
		es.push_back({p->idx->oid_at(i), Oid{}, p->idx->offset_at(i), 0, false});
	std::sort(es.begin(), es.end(), [](const E &a, const E &b) { return a.off < b.off; });
	bool any_delta = false;
	for (size_t i = 0; i < es.size(); i++) {
		es[i].len = (i + 1 < es.size() ? es[i + 1].off : p->size - 20) - es[i].off;
		int type;
		uint64_t size;
		uint64_t data = pack_entry_header(fd, es[i].off, &type, &size, p->pack_path);
		if (type == 6)
			return LineageGc::other; // offsets would change: not ours
		if (type == 7) {
			auto b = delta_base(p, es[i].off, type, &data);
			if (!b)
				return LineageGc::other;
			es[i].base = b->id;
			es[i].delta = any_delta = true;
		}
		at[es[i].oid] = i;
	}
	if (!any_delta)
		return LineageGc::other;
	std::vector<bool> need(es.size());
	std::vector<size_t> work;
	for (size_t i = 0; i < es.size(); i++)
		if (reachable(es[i].oid)) {
			need[i] = true;
			work.push_back(i);
		}
	while (!work.empty()) {
		size_t i = work.back();
		work.pop_back();
		if (!es[i].delta)
			continue;
		auto b = at.find(es[i].base);
		if (b == at.end())
			return LineageGc::other;
		if (!need[b->second]) {
			need[b->second] = true;
			work.push_back(b->second);
		}
	}
	size_t count = (size_t)std::count(need.begin(), need.end(), true);
	for (size_t i = 0; i < es.size(); i++)
		if (need[i])
			kept.push_back(es[i].oid);
	if (!count)
		return LineageGc::drop;
	if (count == es.size())
		return LineageGc::keep;
	PackWriter w(s.odb().pack_dir(), (uint32_t)count);
	for (size_t i = 0; i < es.size(); i++)
		if (need[i])
			w.copy_raw(fd, es[i].off, es[i].len, es[i].oid, p->pack_path);
	w.finish();
	return LineageGc::rewritten;
}

// The last close of a big removed file frees its blocks and drops its
// cached pages: ~0.35 s per GiB here, paid by whoever closes it last.  A
// short-lived grandchild holds the files until this process has exited
// and pays it then, off the command's time.  Without fork, we pay.
static void release_after_exit(const std::vector<std::string> &paths)
{
	std::vector<int> fds;
	for (auto &p : paths) {
		int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			fds.push_back(fd);
	}
	if (fds.empty())
		return;
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		for (int fd : fds)
			::close(fd);
		return;
	}
	pid_t child = fork();
	if (child == 0) {
		if (fork() != 0)
			_exit(0);
		// The grandchild: wait for the command to exit (its end of the
		// pipe closes), then let go.
		::close(pipefd[1]);
		char c;
		while (::read(pipefd[0], &c, 1) < 0 && errno == EINTR) {
		}
		for (int fd : fds)
			::close(fd);
		_exit(0);
	}
	::close(pipefd[0]);
	if (child > 0)
		waitpid(child, nullptr, 0);
	for (int fd : fds)
		::close(fd);
	// pipefd[1] stays open until this process exits.
}

void ObjectWriter::retire_packs()
{
	release_after_exit(retired_);
	// Pack first, then idx: an idx without its pack is skipped by every
	// reader; readers that listed the pack look again (ObjectDb::open).
	for (auto &p : retired_) {
		if (::unlink(p.c_str()) < 0 && errno != ENOENT)
			die_errno("unable to remove '" + p + "'");
		std::string idx = p.substr(0, p.size() - 5) + ".idx";
		if (::unlink(idx.c_str()) < 0 && errno != ENOENT)
			die_errno("unable to remove '" + idx + "'");
	}
	retired_.clear();
}

} // namespace pach
