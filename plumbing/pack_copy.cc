#include "plumbing/pack_copy.h"

#include "plumbing/error.h"
#include "plumbing/progress.h"

#include <algorithm>
#include <map>

namespace pach {

namespace {

// Where an object's raw entry is in one pack: entries sorted by offset
// (made on first use), so an entry ends where the next begins.
struct Entries {
	std::vector<uint64_t> offsets;
	uint64_t end = 0;   // where the trailer starts
};

struct Raw {
	Pack *pack = nullptr;
	uint64_t off = 0, len = 0;
};

class Locator {
public:
	explicit Locator(const std::vector<std::shared_ptr<Pack>> &packs) : packs_(packs) {}

	// The first whole (non-delta) entry of o, if any pack holds one.
	std::optional<Raw> find(const Oid &o)
	{
		for (auto &p : packs_) {
			if (p->get_fd() < 0)
				continue;
			auto off = p->idx->find(o);
			if (!off)
				continue;
			int type = 0;
			uint64_t size = 0;
			pack_entry_header(p->get_fd(), *off, &type, &size, p->pack_path);
			if (type < 1 || type > 4)
				continue;   // a delta
			Entries &e = entries(*p);
			auto it = std::upper_bound(e.offsets.begin(), e.offsets.end(), *off);
			uint64_t next = it == e.offsets.end() ? e.end : *it;
			return Raw{p.get(), *off, next - *off};
		}
		return std::nullopt;
	}

private:
	Entries &entries(const Pack &p)
	{
		Entries &e = by_pack_[&p];
		if (e.offsets.empty()) {
			for (uint32_t i = 0; i < p.idx->count(); i++)
				e.offsets.push_back(p.idx->offset_at(i));
			std::sort(e.offsets.begin(), e.offsets.end());
			e.end = p.size - 20;
		}
		return e;
	}

	const std::vector<std::shared_ptr<Pack>> &packs_;
	std::map<const Pack *, Entries> by_pack_;
};

} // namespace

std::optional<Oid> copy_to_pack(Store &s, const std::string &dir, const std::vector<Oid> &objects,
				const std::vector<std::shared_ptr<Pack>> &packs, const char *title, const WriteOwn &own)
{
	if (objects.empty())
		return std::nullopt;
	PackWriter w(dir, (uint32_t)objects.size());
	LevelGovernor gov;
	std::optional<Progress> pr;
	if (title)
		pr.emplace(title, objects.size(), true);
	Locator raw(packs);
	for (auto &o : objects) {
		if (own && own(w, o)) {
			if (pr)
				pr->add(1, 0);
			continue;
		}
		if (auto r = raw.find(o)) {
			w.copy_raw(r->pack->get_fd(), r->off, r->len, o, r->pack->pack_path);
			if (pr)
				pr->add(1, r->len);
			continue;
		}
		auto rd = s.odb().open(o);
		if (!rd)
			die("object {} is missing; run 'pach fsck'", o.hex());
		w.add_stream(rd->type(), rd->size(), o, [&](void *b, size_t n) { return rd->read(b, n); }, gov);
		if (pr)
			pr->add(1, rd->size());
	}
	return w.finish();
}

} // namespace pach
