#include "plumbing/stat_cache.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"

#include <cstring>
#include <ctime>

namespace pach {

static constexpr char kMagic[8] = {'P', 'A', 'C', 'H', 'S', 'C', '0', '1'};
// Wider than any filesystem's timestamp granularity we care about (ext4
// and xfs stamp with the coarse clock, a few milliseconds).
static constexpr int64_t kRacyMarginNs = 50'000'000;

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
	std::string raw;
	try {
		raw = read_file_small(file_);
	} catch (const Error &) {
		return; // a cache: unreadable means empty
	}
	if (raw.size() < 8 || std::memcmp(raw.data(), kMagic, 8))
		return;
	size_t i = 8;
	constexpr size_t kFixed = 8 + 8 + 8 + 8 + 4 + 20;
	while (i + 4 <= raw.size()) {
		uint32_t len;
		std::memcpy(&len, raw.data() + i, 4);
		i += 4;
		if (i + len + kFixed > raw.size())
			break;
		std::string path = raw.substr(i, len);
		i += len;
		Entry e;
		std::memcpy(&e.size, raw.data() + i, 8);
		std::memcpy(&e.ino, raw.data() + i + 8, 8);
		std::memcpy(&e.mtime_ns, raw.data() + i + 16, 8);
		std::memcpy(&e.ctime_ns, raw.data() + i + 24, 8);
		std::memcpy(&e.mode, raw.data() + i + 32, 4);
		std::memcpy(e.oid.b.data(), raw.data() + i + 36, 20);
		i += kFixed;
		m_.emplace(std::move(path), e);
	}
}

const Oid *StatCache::lookup(const std::string &path, const struct stat &st) const
{
	auto it = m_.find(path);
	if (it == m_.end())
		return nullptr;
	const Entry &e = it->second;
	if (e.size != (uint64_t)st.st_size || e.ino != (uint64_t)st.st_ino || e.mtime_ns != ns(st.st_mtim) ||
	    e.ctime_ns != ns(st.st_ctim) || e.mode != (uint32_t)st.st_mode)
		return nullptr;
	e.seen = true; // distinct entries per thread: no race
	return &e.oid;
}

void StatCache::update(const std::string &path, const struct stat &st, const Oid &oid, int64_t scan_start_ns)
{
	if (ns(st.st_mtim) >= scan_start_ns - kRacyMarginNs || ns(st.st_ctim) >= scan_start_ns - kRacyMarginNs) {
		forget(path);
		return;
	}
	Entry e{(uint64_t)st.st_size, (uint64_t)st.st_ino, ns(st.st_mtim), ns(st.st_ctim), (uint32_t)st.st_mode, oid, true};
	m_[path] = e;
	dirty_ = true;
}

void StatCache::forget(const std::string &path)
{
	if (m_.erase(path))
		dirty_ = true;
}

void StatCache::prune_under(const std::string &dir)
{
	std::string pre = dir + "/";
	for (auto it = m_.begin(); it != m_.end();) {
		if (!it->second.seen && it->first.compare(0, pre.size(), pre) == 0) {
			it = m_.erase(it);
			dirty_ = true;
		} else {
			++it;
		}
	}
}

void StatCache::save()
{
	if (!dirty_)
		return;
	std::string out(kMagic, 8);
	out.reserve(8 + m_.size() * 120);
	for (auto &[path, e] : m_) {
		uint32_t len = (uint32_t)path.size();
		out.append(reinterpret_cast<const char *>(&len), 4);
		out += path;
		out.append(reinterpret_cast<const char *>(&e.size), 8);
		out.append(reinterpret_cast<const char *>(&e.ino), 8);
		out.append(reinterpret_cast<const char *>(&e.mtime_ns), 8);
		out.append(reinterpret_cast<const char *>(&e.ctime_ns), 8);
		out.append(reinterpret_cast<const char *>(&e.mode), 4);
		out.append(reinterpret_cast<const char *>(e.oid.b.data()), 20);
	}
	try {
		write_file_atomic(file_, out);
	} catch (const Error &) {
		// Losing the cache costs time, never correctness.
	}
	dirty_ = false;
}

} // namespace pach
