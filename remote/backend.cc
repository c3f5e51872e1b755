#include "remote/backend.h"

#include "plumbing/config.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/number.h"
#include "plumbing/quote.h"
#include "remote/s3.h"
#include "remote/sigv4.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <thread>

namespace pach::remote {

namespace {

// A directory.  The state object's compare-and-swap holds an flock on
// a lock file there, so it is safe between processes on one machine and
// on filesystems whose locks work across machines.
class FileBackend : public Backend {
public:
	explicit FileBackend(std::string url, std::string root) : url_(std::move(url)), root_(std::move(root)) {}
	std::string describe() const override { return url_; }

	std::optional<Object> get(const std::string &key, uint64_t max) override
	{
		requests_++;
		std::string p = path(key);
		Fd f = open_regular(p);
		if (!f)
			return std::nullopt;
		Object o;
		char buf[65536];
		ssize_t n;
		while ((n = ::read(f.get(), buf, sizeof buf)) > 0) {
			if (o.data.size() + (size_t)n > max)
				die("remote '{}': '{}' is larger than {} bytes", url_, key, max);
			o.data.append(buf, (size_t)n);
		}
		if (n < 0)
			die_errno("unable to read '" + p + "'");
		o.etag = sha256_hex(o.data.data(), o.data.size());
		return o;
	}

	void get_range(const std::string &key, uint64_t off, uint64_t len, int fd, uint64_t fd_off,
		       const OnBytes &progress) override
	{
		requests_++;
		std::string p = path(key);
		Fd f = open_regular(p);
		if (!f)
			die("remote '{}': '{}' is missing", url_, key);
		std::vector<char> buf(1 << 20);
		while (len) {
			ssize_t n = pread(f.get(), buf.data(), std::min<uint64_t>(len, buf.size()), (off_t)off);
			if (n <= 0)
				die("'{}' is shorter than expected", p);
			if (pwrite(fd, buf.data(), (size_t)n, (off_t)fd_off) != n)
				die_errno("unable to write what was read from '" + p + "'");
			off += (uint64_t)n;
			fd_off += (uint64_t)n;
			len -= (uint64_t)n;
			if (progress)
				progress((uint64_t)n);
		}
	}

	std::optional<uint64_t> size(const std::string &key) override
	{
		requests_++;
		struct stat st;
		if (::lstat(path(key).c_str(), &st) < 0 || !S_ISREG(st.st_mode))
			return std::nullopt;
		return (uint64_t)st.st_size;
	}

	PutStatus put(const std::string &key, const std::string &data, const PutCondition &c) override
	{
		requests_++;
		std::string p = path(key);
		mkdir_p(dirname_of(p));
		Fd lock;
		if (c.kind != PutCondition::none) {
			std::string lp = root_ + "/.lock";
			lock = Fd(::open(lp.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
			if (!lock || flock(lock.get(), LOCK_EX) < 0)
				die_errno("unable to lock '" + lp + "'");
			auto cur = read_quiet(p);
			if (c.kind == PutCondition::absent && cur)
				return PutStatus::precondition_failed;
			if (c.kind == PutCondition::matches && (!cur || sha256_hex(cur->data(), cur->size()) != c.etag))
				return PutStatus::precondition_failed;
		}
		write_file_atomic(p, data);
		return PutStatus::ok;
	}

	void put_file(const std::string &key, int fd, uint64_t size, const OnBytes &progress) override
	{
		requests_++;
		std::string p = path(key);
		mkdir_p(dirname_of(p));
		TempFile t(dirname_of(p), "tmp_");
		off_t off = 0;
		while ((uint64_t)off < size) {
			ssize_t n = sendfile(t.fd(), fd, &off, std::min<uint64_t>(size - (uint64_t)off, 1 << 26));
			if (n <= 0)
				die_errno("unable to copy to '" + p + "'");
			if (progress)
				progress((uint64_t)n);
		}
		t.rename_to(p, true);
	}

	std::vector<Listed> list(const std::string &prefix) override
	{
		requests_++;
		std::vector<Listed> out;
		std::error_code ec;
		for (auto it = std::filesystem::recursive_directory_iterator(root_, ec);
		     !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
			if (!it->is_regular_file())
				continue;
			std::string rel = std::filesystem::relative(it->path(), root_).string();
			if (rel.compare(0, prefix.size(), prefix) == 0 && rel != ".lock" && rel.find("/tmp_") == std::string::npos)
				out.push_back({rel, (uint64_t)it->file_size()});
		}
		std::sort(out.begin(), out.end(), [](auto &a, auto &b) { return a.key < b.key; });
		return out;
	}

	void remove(const std::string &key) override
	{
		requests_++;
		::unlink(path(key).c_str());
	}

private:
	std::string path(const std::string &key) const { return root_ + "/" + key; }
	// The remote's file at p, opened without following a symlink and
	// without blocking on a FIFO; anything but a regular file is refused.
	// An empty Fd: absent.
	Fd open_regular(const std::string &p) const
	{
		Fd f(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
		if (!f) {
			if (errno == ENOENT || errno == ENOTDIR)
				return f;
			die_errno("unable to read '" + p + "'");
		}
		struct stat st;
		if (fstat(f.get(), &st) < 0 || !S_ISREG(st.st_mode))
			die("remote '{}': '{}' is not a regular file", url_, p.substr(root_.size() + 1));
		int fl = fcntl(f.get(), F_GETFL);
		fcntl(f.get(), F_SETFL, fl & ~O_NONBLOCK);
		return f;
	}
	std::optional<std::string> read_quiet(const std::string &p) const
	{
		Fd f = open_regular(p);
		if (!f)
			return std::nullopt;
		std::string s;
		char buf[65536];
		ssize_t n;
		while ((n = ::read(f.get(), buf, sizeof buf)) > 0) {
			if (s.size() + (size_t)n > kMaxSmall)
				die("remote '{}': '{}' is larger than {} bytes", url_, p.substr(root_.size() + 1), kMaxSmall);
			s.append(buf, (size_t)n);
		}
		return s;
	}

	std::string url_, root_;
};

} // namespace

std::string check_url(const std::string &url)
{
	if (url_has_credentials(url))
		return "credentials in a URL are not accepted: give them through AWS_ACCESS_KEY_ID and "
		       "AWS_SECRET_ACCESS_KEY, or ~/.aws/credentials";
	if (url.compare(0, 7, "file://") == 0) {
		if (url.size() <= 7 || url[7] != '/')
			return "a file remote needs an absolute path (file:///path)";
		return "";
	}
	if (url.compare(0, 5, "s3://") == 0) {
		std::string rest = url.substr(5);
		std::string bucket = rest.substr(0, rest.find('/'));
		if (bucket.empty())
			return "no bucket in '" + url + "' (s3://bucket/prefix)";
		for (char c : bucket)
			if (!(isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_'))
				return "bad bucket name '" + quote_path(bucket) + "'";
		return "";
	}
	return "unsupported URL '" + quote_path(redact_url(url)) + "' (expected s3://bucket/prefix or file:///path)";
}

std::unique_ptr<Backend> open_backend(const RemoteConfig &c)
{
	std::string bad = check_url(c.url);
	if (!bad.empty())
		die("remote '{}': {}", c.name, bad);
	if (c.url.compare(0, 7, "file://") == 0) {
		std::string root = c.url.substr(7);
		while (root.size() > 1 && root.back() == '/')
			root.pop_back();
		auto b = std::make_unique<FileBackend>(c.url, root);
		b->tuning = c.tuning;
		return b;
	}
	auto b = make_s3_backend(c);
	b->tuning = c.tuning;
	return b;
}

RemoteTuning remote_tuning(const Store *s)
{
	RemoteTuning t;
	auto setting = [&](const char *key, const char *env) -> std::optional<std::string> {
		if (const char *v = getenv(env); v && *v)
			return std::string(v);
		return key ? config_get(s, key) : std::nullopt;
	};
	auto number = [&](const char *key, const char *env, int64_t lo, int64_t hi) -> std::optional<int64_t> {
		auto v = setting(key, env);
		if (!v)
			return std::nullopt;
		auto n = parse_int64(*v);
		const char *from = getenv(env) && *getenv(env) ? env : key;   // name what the user set
		if (!n || *n < lo || *n > hi)
			die("{} '{}': expected a whole number from {} to {}", from, *v, lo, hi);
		return n;
	};
	if (auto n = number("remote.jobs", "PACH_REMOTE_JOBS", 1, 256))
		t.jobs = (int)*n;
	if (auto n = number("remote.retrySeconds", "PACH_REMOTE_RETRY_SECONDS", 0, 86400))
		t.retry_seconds = (double)*n;
	if (auto n = number("remote.partSizeMB", "PACH_S3_PART_MB", 5, 5120))
		t.part_size = (uint64_t)*n << 20;
	if (auto n = number(nullptr, "PACH_FETCH_CHUNK_MB", 1, 1024))
		t.fetch_chunk = (uint64_t)*n << 20;
	if (auto n = number(nullptr, "PACH_REMOTE_LOCK_SETTLE_MS", 0, 600000))
		t.lock_settle_ms = (int)*n;
	if (auto n = number(nullptr, "PACH_REMOTE_LOCK_WAIT", 0, 86400))
		t.lock_wait_s = (int)*n;
	t.unsigned_payload = setting(nullptr, "PACH_S3_UNSIGNED_PAYLOAD") == std::optional<std::string>("1");
	return t;
}

} // namespace pach::remote
