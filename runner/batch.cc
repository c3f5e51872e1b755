#include "runner/batch.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

namespace pach::runner {

namespace {

constexpr size_t kMaxRequest = 64 << 10;   // a line on `next`, at most

double since(std::chrono::steady_clock::time_point t0)
{
	return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

off_t file_size(const std::string &path)
{
	struct stat st;
	return ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// Bytes [from, end) of `src` appended to `dst`.
void append_range(const std::string &src, off_t from, const std::string &dst)
{
	Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
	Fd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
	if (!in || !out)
		return;
	char buf[1 << 16];
	for (;;) {
		ssize_t n = ::pread(in.get(), buf, sizeof buf, from);
		if (n <= 0)
			break;
		write_full(out.get(), buf, (size_t)n, dst);
		from += n;
	}
}

} // namespace

std::string export_lines(const std::map<std::string, std::string> &env)
{
	std::string o;
	for (auto &[k, v] : env) {
		o += "export " + k + "='";
		for (char c : v)
			o += c == '\'' ? std::string("'\\''") : std::string(1, c);
		o += "'\n";
	}
	return o;
}

Batch::Batch(Runtime &rt, std::string dir) : rt_(rt), dir_(std::move(dir))
{
	mkdir_p(dir_);
	for (const char *name : {"next", "ready"}) {
		std::string p = dir_ + "/" + name;
		::unlink(p.c_str());
		// Anyone may write: the transform may run as another user.
		if (mkfifo(p.c_str(), 0600) < 0 || chmod(p.c_str(), 0666) < 0)
			die_errno("unable to make the datum batch's FIFO '" + p + "'");
	}
	// Read and write: never an end of file, however often user code
	// opens and closes its end.
	next_fd_ = ::open((dir_ + "/next").c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (next_fd_ < 0)
		die_errno("unable to open '" + dir_ + "/next'");
}

Batch::~Batch()
{
	stop();
	if (next_fd_ >= 0)
		::close(next_fd_);
}

void Batch::stop()
{
	if (!proc_)
		return;
	cancel_ = true;
	proc_->join();
	proc_.reset();
}

bool Batch::start(const ProcessSpec &ps)
{
	stop();
	spec_ = ps;
	spec_.log_path = log_path();
	spec_.err_path.clear();
	spec_.cancel = &cancel_;
	spec_.timeout = -1;   // datum_timeout is ours to keep, per datum
	ended_ = false;
	cancel_ = false;
	pending_.clear();
	char buf[4096];
	while (::read(next_fd_, buf, sizeof buf) > 0) {
		// what an earlier process left unread
	}
	proc_ = std::make_unique<std::thread>([this] {
		try {
			result_ = rt_.run(spec_);
		} catch (const std::exception &e) {
			result_ = ProcessResult();
			result_.error = e.what();
		}
		ended_ = true;
	});
	return true;
}

std::optional<std::string> Batch::wait_request(double timeout)
{
	auto t0 = std::chrono::steady_clock::now();
	for (;;) {
		auto nl = pending_.find('\n');
		if (nl != std::string::npos || pending_.size() >= kMaxRequest) {
			std::string line = pending_.substr(0, std::min(nl, kMaxRequest));
			pending_.erase(0, nl == std::string::npos ? pending_.size() : nl + 1);
			return line;
		}
		bool gone = ended_;
		struct pollfd pfd {next_fd_, POLLIN, 0};
		if (::poll(&pfd, 1, gone ? 0 : 20) > 0 && (pfd.revents & POLLIN)) {
			char buf[4096];
			ssize_t n = ::read(next_fd_, buf, sizeof buf);
			if (n > 0) {
				pending_.append(buf, (size_t)n);
				continue;
			}
		}
		if (gone)
			return std::nullopt;
		if (timeout > 0 && since(t0) > timeout) {
			timed_out_ = true;
			return std::nullopt;
		}
	}
}

bool Batch::send(const std::string &text, double timeout)
{
	auto t0 = std::chrono::steady_clock::now();
	std::string ready = dir_ + "/ready";
	int nap = 50;
	for (;;) {
		// Open only once the process waits on its end (ENXIO before).
		Fd fd(::open(ready.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
		if (fd) {
			int fl = fcntl(fd.get(), F_GETFL);
			fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
			size_t off = 0;
			while (off < text.size()) {   // EPIPE (the reader left) ends it: SIGPIPE is ignored
				ssize_t n = ::write(fd.get(), text.data() + off, text.size() - off);
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					return false;
				off += (size_t)n;
			}
			return true;
		}
		if (errno != ENXIO)
			die_errno("unable to open '" + ready + "'");
		if (ended_)
			return false;
		if (timeout > 0 && since(t0) > timeout) {
			timed_out_ = true;
			return false;
		}
		// The reader is usually a moment away: look again soon, then
		// less often.
		std::this_thread::sleep_for(std::chrono::microseconds(nap));
		nap = std::min(nap * 2, 2000);
	}
}

ProcessResult Batch::run(const ProcessSpec &ps, const std::map<std::string, std::string> &env, double timeout,
			 std::string &message)
{
	ProcessResult r;
	timed_out_ = false;
	message.clear();
	auto t0 = std::chrono::steady_clock::now();
	auto left = [&] { return timeout > 0 ? std::max(0.001, timeout - since(t0)) : 0.0; };
	off_t log_from = file_size(log_path());
	std::optional<std::string> answer;
	bool first = !proc_ || ended_;
	if (first)
		start(ps);
	// A process just started asks for its first datum ("ok": none before).
	bool asked = !first || wait_request(left()).has_value();
	if (asked && send(export_lines(env), left()))
		answer = wait_request(left());
	append_range(log_path(), log_from, ps.log_path);
	if (answer && *answer == "ok") {
		r.exit_code = 0;
		return r;
	}
	if (answer) {
		message = answer->compare(0, 5, "error") == 0
				  ? "user code reported an error: " + answer->substr(std::min<size_t>(answer->size(), 6))
				  : "user code wrote '" + answer->substr(0, 200) + "' to next (expected ok or error MESSAGE)";
	} else if (timed_out_) {
		r.timed_out = true;
	} else {
		stop();   // it ended: join it for its status
		const ProcessResult &e = result_;
		message = !e.error.empty() ? e.error
			  : e.signal	   ? fmt::format("user code was killed by signal {} before it finished the datum", e.signal)
					   : fmt::format("user code exited (exit code {}) before it finished the datum", e.exit_code);
	}
	stop();   // every failure starts the next datum with a new process, as Pachyderm does
	r.error = message;
	return r;
}

} // namespace pach::runner
