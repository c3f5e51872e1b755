#include "remote/objects.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/inflate.h"
#include "plumbing/odb.h"
#include "plumbing/parallel.h"
#include "remote/sync.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>

namespace pach::remote {

namespace {

// A remote pack's idx, from the cache or downloaded into it, and its
// entries' offsets in order (an entry ends where the next begins).
struct RemotePack {
	std::string prefix, name;   // <prefix><name>.pack and .idx
	uint64_t size = 0;
	std::unique_ptr<PackIndex> idx;
	std::vector<uint64_t> offsets;   // sorted
	// [start, end) of the entry at `off`; dies when the idx is unsound.
	std::pair<uint64_t, uint64_t> entry(uint64_t off) const
	{
		auto it = std::upper_bound(offsets.begin(), offsets.end(), off);
		uint64_t end = it == offsets.end() ? size - 20 : *it;
		if (off < 12 || end <= off || end > size - 20)
			die("remote pack {}: its idx names offset {} outside the pack", name, off);
		return {off, end};
	}
};

std::unique_ptr<RemotePack> load_pack(Backend &b, const std::string &prefix, const std::string &name, uint64_t size,
				      const std::string &cache, ObjectFetchStats &st, std::mutex &mu)
{
	auto p = std::make_unique<RemotePack>();
	p->prefix = prefix;
	p->name = name;
	p->size = size;
	if (size < 32)
		die("remote pack {}: too small to be a pack", name);
	std::string path = cache + "/" + name + ".idx";
	if (!path_exists(path)) {
		std::string key = prefix + name + ".idx";
		auto n = b.size(key);
		if (!n)
			die("remote {}: pack {} has no idx", b.describe(), name);
		// An idx holds 28 bytes and more per object of the pack, and
		// every object takes at least 2 bytes of it: bound the idx by
		// the pack's size.
		if (*n > 1024 + size * 16)
			die("remote pack {}: its idx is larger than the pack allows", name);
		TempFile t(cache, "idx");
		b.get_range(key, 0, *n, t.fd(), 0);
		t.rename_to(path, false);
		std::lock_guard<std::mutex> g(mu);
		st.idx_bytes += *n;
		st.requests += 2;
	}
	p->idx = std::make_unique<PackIndex>(path);   // dies on an unsound idx
	if (p->idx->pack_checksum().hex() != name) {
		unlink(path.c_str());
		die("remote pack {}: its idx is for another pack", name);
	}
	p->offsets.reserve(p->idx->count());
	for (uint32_t i = 0; i < p->idx->count(); i++)
		p->offsets.push_back(p->idx->offset_at(i));
	std::sort(p->offsets.begin(), p->offsets.end());
	return p;
}

// One object's entry, at [start, end) of `fd` (a downloaded range),
// checked and stored.
void store_entry(ObjectWriter &w, int fd, uint64_t start, uint64_t end, const Oid &want, const std::string &pack,
		 const std::string &tmpdir, int slot)
{
	std::string what = "remote object " + want.hex();
	int type;
	uint64_t size;
	uint64_t data = pack_entry_header(fd, start, &type, &size, what);
	if (data > end)
		die("{}: its entry ends inside its header", what);
	if (type == 6 || type == 7)
		die("{} is stored as a delta in remote pack {}; workers read whole objects only (a pack pach "
		    "pushed has none: was the remote written by another tool?)",
		    what, pack);
	if (type != (int)ObjType::blob && type != (int)ObjType::tree)
		die("{}: expected a blob or a tree, found type {}", what, type);
	Inflater in(fd, data, what, size, Inflater::zlib, end);
	Oid got;
	if (type == (int)ObjType::tree) {
		if (size > (64u << 20))
			die("{}: a tree of {} bytes is more than pach reads", what, size);
		std::string body(size, '\0');
		size_t n = 0;
		while (n < size) {
			size_t r = in.read(body.data() + n, size - n);
			if (!r)
				die("{}: shorter than its header says", what);
			n += r;
		}
		char extra;
		if (in.read(&extra, 1))
			die("{}: longer than its header says", what);
		got = w.object(ObjType::tree, body, slot);
	} else {
		TempFile content(tmpdir, "blob");
		char buf[1 << 16];
		uint64_t n = 0;
		for (size_t r; (r = in.read(buf, sizeof buf)) > 0; n += r) {
			if (n + r > size)
				die("{}: longer than its header says", what);
			write_full(content.fd(), buf, r, content.path());
		}
		if (n != size)
			die("{}: shorter than its header says", what);
		if (lseek(content.fd(), 0, SEEK_SET) < 0)
			die_errno("unable to seek in '" + content.path() + "'");
		got = w.blob_from_fd(content.fd(), size, content.path(), slot);
	}
	if (!(got == want))
		die("{} is corrupt: its content hashes to {}", what, got.hex());
}

// Entries read with one request: neighbours in one pack (objects of one
// commit are written next to each other), gaps and size bounded.
struct Wanted {
	Oid oid;
	const RemotePack *pack = nullptr;
	uint64_t start = 0, end = 0;
};
struct Range {
	const RemotePack *pack;
	uint64_t start, end;
	std::vector<const Wanted *> items;
};
constexpr uint64_t kMaxGap = 64 << 10, kMaxRange = 16 << 20;

} // namespace

ObjectFetchStats fetch_objects(Store &s, Backend &b, const std::vector<Oid> &want, const std::string &idx_cache,
			       const std::vector<ExtraPack> &extra)
{
	ObjectFetchStats st;
	std::vector<Oid> missing;
	for (auto &o : want)
		if (!s.odb().contains(o))
			missing.push_back(o);
	std::sort(missing.begin(), missing.end());
	missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
	if (missing.empty())
		return st;
	mkdir_p(idx_cache);
	State state = read_state(b);
	st.requests++;
	std::vector<ExtraPack> names = extra;
	for (auto &[n, size] : state.packs)
		names.push_back({"packs/", n, size});
	for (auto &x : names)
		if (x.name.size() != 40 || x.name.find_first_not_of("0123456789abcdef") != std::string::npos)
			die("remote {}: '{}' is not a pack name", b.describe(), x.name.substr(0, 60));
	std::vector<std::unique_ptr<RemotePack>> packs(names.size());
	std::mutex mu;
	parallel_for(names.size(), std::min(8, b.parallelism()), [&](size_t i, int) {
		packs[i] = load_pack(b, names[i].prefix, names[i].name, names[i].size, idx_cache, st, mu);
	});
	// Where each object is: the first pack that has it.
	std::vector<Wanted> where(missing.size());
	for (size_t i = 0; i < missing.size(); i++) {
		where[i].oid = missing[i];
		for (auto &p : packs)
			if (auto off = p->idx->find(missing[i])) {
				where[i].pack = p.get();
				std::tie(where[i].start, where[i].end) = p->entry(*off);
				break;
			}
		if (!where[i].pack)
			die("object {} is in none of the packs of remote {}", missing[i].hex(), b.describe());
	}
	std::sort(where.begin(), where.end(), [](const Wanted &a, const Wanted &b) {
		return a.pack != b.pack ? a.pack->name < b.pack->name : a.start < b.start;
	});
	std::vector<Range> ranges;
	for (auto &x : where) {
		if (!ranges.empty()) {
			Range &r = ranges.back();
			if (r.pack == x.pack && x.start >= r.end && x.start - r.end <= kMaxGap && x.end - r.start <= kMaxRange) {
				r.end = x.end;
				r.items.push_back(&x);
				continue;
			}
		}
		ranges.push_back({x.pack, x.start, x.end, {&x}});
	}
	std::string tmp = s.path("pach/tmp");
	mkdir_p(tmp);
	int workers = std::max(1, b.parallelism());
	ObjectWriter w(s, workers);
	parallel_for(ranges.size(), workers, [&](size_t i, int slot) {
		const Range &r = ranges[i];
		TempFile raw(tmp, "range");
		b.get_range(r.pack->prefix + r.pack->name + ".pack", r.start, r.end - r.start, raw.fd(), 0);
		for (const Wanted *x : r.items)
			store_entry(w, raw.fd(), x->start - r.start, x->end - r.start, x->oid, r.pack->name, tmp, slot);
		std::lock_guard<std::mutex> g(mu);
		st.objects += r.items.size();
		st.bytes += r.end - r.start;
		st.requests++;
	});
	w.finish();
	return st;
}

} // namespace pach::remote
