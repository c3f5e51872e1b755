#include "plumbing/stat_cache.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"

#include <algorithm>
#include <cstring>
#include <ctime>

namespace pach {

static constexpr char kMagic[8] = {'P', 'A', 'C', 'H', 'S', 'C', '0', '2'};
// Wider than any filesystem's timestamp granularity we care about (ext4
// and xfs stamp with the coarse clock, a few milliseconds).
static constexpr int64_t kRacyMarginNs = 50'000'000;
static constexpr size_t kFixed = 8 + 8 + 8 + 8 + 4 + 20;

int64_t now_ns()
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1'000'000'000 + ts.tv_nsec;
}

static int64_t ns(const struct timespec &t)
{
	return (int64_t)t.tv_sec * 1'000'000'000 + t.tv_nsec;
}

StatCache::StatCache(std::string file) : file_(std::move(file)) {}

void StatCache::load()
{
	if (!path_exists(file_))
		return;
	try {
		raw_ = read_file_small(file_);
	} catch (const Error &) {
		return; // a cache: unreadable means empty
	}
	if (raw_.size() < 8 || std::memcmp(raw_.data(), kMagic, 8)) {
		raw_.clear();
		return;
	}
	size_t i = 8;
	bool sorted = true;
	recs_.reserve(raw_.size() / 96);
	while (i + 4 <= raw_.size()) {
		uint32_t len;
		std::memcpy(&len, raw_.data() + i, 4);
		i += 4;
		if (i + len + kFixed > raw_.size())
			break;
		Rec r;
		r.path = std::string_view(raw_.data() + i, len);
		i += len;
		const char *p = raw_.data() + i;
		std::memcpy(&r.e.size, p, 8);
		std::memcpy(&r.e.ino, p + 8, 8);
		std::memcpy(&r.e.mtime_ns, p + 16, 8);
		std::memcpy(&r.e.ctime_ns, p + 24, 8);
		std::memcpy(&r.e.mode, p + 32, 4);
		std::memcpy(r.e.oid.b.data(), p + 36, 20);
		i += kFixed;
		if (!recs_.empty() && !(recs_.back().path < r.path))
			sorted = false;
		recs_.push_back(r);
	}
	if (!sorted) {
		std::sort(recs_.begin(), recs_.end(), [](auto &a, auto &b) { return a.path < b.path; });
		recs_.erase(std::unique(recs_.begin(), recs_.end(), [](auto &a, auto &b) { return a.path == b.path; }),
			    recs_.end());
	}
	state_.assign(recs_.size(), kUnseen);
}

const StatCache::Rec *StatCache::find(std::string_view path, size_t *idx, size_t *hint) const
{
	if (hint && *hint + 1 < recs_.size() && recs_[*hint + 1].path == path) {
		*idx = ++*hint;
		return &recs_[*idx];
	}
	auto it = std::lower_bound(recs_.begin(), recs_.end(), path, [](const Rec &r, std::string_view p) { return r.path < p; });
	if (it == recs_.end() || it->path != path)
		return nullptr;
	*idx = (size_t)(it - recs_.begin());
	if (hint)
		*hint = *idx;
	return &*it;
}

const Oid *StatCache::lookup(const std::string &path, const struct stat &st, size_t *hint) const
{
	size_t idx;
	const Rec *r = find(path, &idx, hint);
	if (!r || state_[idx] == kDead)
		return nullptr;
	const Entry &e = r->e;
	if (e.size != (uint64_t)st.st_size || e.ino != (uint64_t)st.st_ino || e.mtime_ns != ns(st.st_mtim) ||
	    e.ctime_ns != ns(st.st_ctim) || e.mode != (uint32_t)st.st_mode)
		return nullptr;
	state_[idx] = kSeen; // one byte per record: threads never share one
	return &e.oid;
}

void StatCache::forget(const std::string &path)
{
	size_t idx;
	if (find(path, &idx) && state_[idx] != kDead) {
		state_[idx] = kDead;
		dirty_ = true;
	}
	if (updates_.erase(path))
		dirty_ = true;
}

void StatCache::update(const std::string &path, const struct stat &st, const Oid &oid, int64_t scan_start_ns)
{
	// Whole-second timestamps suggest a filesystem with 1 s granularity:
	// there a file rewritten in the same second keeps its mtime.
	auto margin = [](const struct timespec &t) { return t.tv_nsec == 0 ? 1'000'000'000 : kRacyMarginNs; };
	if (ns(st.st_mtim) >= scan_start_ns - margin(st.st_mtim) || ns(st.st_ctim) >= scan_start_ns - margin(st.st_ctim)) {
		forget(path);
		return;
	}
	Entry e{(uint64_t)st.st_size, (uint64_t)st.st_ino, ns(st.st_mtim), ns(st.st_ctim), (uint32_t)st.st_mode, oid};
	size_t idx;
	if (find(path, &idx))
		state_[idx] = kDead; // superseded by the update
	updates_[path] = e;
	dirty_ = true;
}

void StatCache::prune_under(const std::string &dir)
{
	std::string pre = dir + "/";
	auto it = std::lower_bound(recs_.begin(), recs_.end(), std::string_view(pre),
				   [](const Rec &r, std::string_view p) { return r.path < p; });
	for (; it != recs_.end() && it->path.compare(0, pre.size(), pre) == 0; ++it) {
		size_t idx = (size_t)(it - recs_.begin());
		if (state_[idx] == kUnseen) {
			state_[idx] = kDead;
			dirty_ = true;
		}
	}
}

size_t StatCache::size() const
{
	size_t n = updates_.size();
	for (auto s : state_)
		n += s != kDead;
	return n;
}

void StatCache::save()
{
	if (!dirty_)
		return;
	std::string out(kMagic, 8);
	out.reserve(raw_.size() + updates_.size() * 120);
	auto emit = [&](std::string_view path, const Entry &e) {
		uint32_t len = (uint32_t)path.size();
		out.append(reinterpret_cast<const char *>(&len), 4);
		out.append(path);
		out.append(reinterpret_cast<const char *>(&e.size), 8);
		out.append(reinterpret_cast<const char *>(&e.ino), 8);
		out.append(reinterpret_cast<const char *>(&e.mtime_ns), 8);
		out.append(reinterpret_cast<const char *>(&e.ctime_ns), 8);
		out.append(reinterpret_cast<const char *>(&e.mode), 4);
		out.append(reinterpret_cast<const char *>(e.oid.b.data()), 20);
	};
	// Merge the live records and the updates, both sorted by path.
	auto u = updates_.begin();
	for (size_t i = 0; i < recs_.size(); i++) {
		if (state_[i] == kDead)
			continue;
		while (u != updates_.end() && std::string_view(u->first) < recs_[i].path) {
			emit(u->first, u->second);
			++u;
		}
		emit(recs_[i].path, recs_[i].e);
	}
	for (; u != updates_.end(); ++u)
		emit(u->first, u->second);
	try {
		write_file_atomic(file_, out);
	} catch (const Error &) {
		// Losing the cache costs time, never correctness.
	}
	dirty_ = false;
}

} // namespace pach
