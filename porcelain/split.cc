#include "porcelain/split.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <memory>

namespace pach::porcelain {

std::string piece_name(uint64_t n) { return fmt::format("{:016x}", n); }

namespace {

constexpr size_t kMaxHeader = 16 << 20;   // header records and SQL framing live in memory

// Where records end, byte by byte: before a byte (a JSON value starts)
// or after it (a newline outside CSV quotes).
class Boundaries {
public:
	explicit Boundaries(const std::string &mode) : json_(mode == "json"), csv_(mode == "csv") {}
	bool ends_before(char c)
	{
		if (!json_ || !after_value_ || isspace((unsigned char)c))
			return false;
		after_value_ = false;
		return true;
	}
	bool ends_after(char c)
	{
		if (csv_) {
			if (c == '"')
				quoted_ = !quoted_;   // "" inside a quoted field toggles twice
			return c == '\n' && !quoted_;
		}
		if (!json_)
			return c == '\n';
		if (in_string_) {
			if (escape_)
				escape_ = false;
			else if (c == '\\')
				escape_ = true;
			else if (c == '"') {
				in_string_ = false;
				after_value_ = depth_ == 0;
			}
			return false;
		}
		if (scalar_ && (isspace((unsigned char)c) || c == '{' || c == '[' || c == '"')) {
			scalar_ = false;
			after_value_ = true;
		}
		if (c == '"')
			in_string_ = true, after_value_ = false;
		else if (c == '{' || c == '[')
			depth_++, after_value_ = false;
		else if ((c == '}' || c == ']') && depth_ > 0)
			after_value_ = --depth_ == 0;
		else if (depth_ == 0 && !isspace((unsigned char)c) && !after_value_)
			scalar_ = true;   // a number, true, false or null at the top
		return false;
	}

private:
	bool json_, csv_, quoted_ = false, in_string_ = false, escape_ = false, after_value_ = false, scalar_ = false;
	int depth_ = 0;
};

class Pieces {
public:
	Pieces(Store &s, ObjectWriter &w, const SplitOptions &o, bool hold) : s_(s), w_(w), o_(o), hold_(hold) {}

	std::string header;   // written atop every piece
	std::vector<Oid> out;

	void write(const char *p, size_t n)
	{
		if (!cur_) {
			cur_ = std::make_unique<TempFile>(s_.path("pach/tmp"), "split");
			buf_ = header;
			bytes_ = records_ = 0;
		}
		buf_.append(p, n);
		bytes_ += n;
		if (buf_.size() >= (1 << 16))
			flush();
	}
	void record_end()
	{
		records_++;
		bool one_each = !o_.target_datums && !o_.target_bytes;
		if (one_each || (o_.target_datums && records_ >= o_.target_datums) ||
		    (o_.target_bytes && bytes_ >= o_.target_bytes))
			close();
	}
	void close()
	{
		if (!cur_)
			return;
		flush();
		if (hold_) {   // SQL: the footer is added at the end
			cur_->close_fd();
			held_.push_back(std::move(cur_));
			return;
		}
		out.push_back(hash(*cur_));
		cur_.reset();
	}
	// SQL pieces get the dump's tail, then are stored.
	void finish(const std::string &footer)
	{
		close();
		for (auto &t : held_) {
			Fd f(::open(t->path().c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
			if (!f)
				die_errno("unable to reopen '" + t->path() + "'");
			write_full(f.get(), footer.data(), footer.size(), t->path());
			out.push_back(hash(*t));
		}
		held_.clear();
	}

private:
	void flush()
	{
		write_full(cur_->fd(), buf_.data(), buf_.size(), cur_->path());
		buf_.clear();
	}
	Oid hash(const TempFile &t)
	{
		Fd f(::open(t.path().c_str(), O_RDONLY | O_CLOEXEC));
		struct stat st;
		if (!f || fstat(f.get(), &st) < 0)
			die_errno("unable to read '" + t.path() + "'");
		return w_.blob_from_fd(f.get(), (uint64_t)st.st_size, t.path());
	}

	Store &s_;
	ObjectWriter &w_;
	const SplitOptions &o_;
	bool hold_;
	std::unique_ptr<TempFile> cur_;
	std::vector<std::unique_ptr<TempFile>> held_;
	std::string buf_;
	uint64_t bytes_ = 0, records_ = 0;
};

void add_header(std::string &h, const char *p, size_t n)
{
	if (h.size() + n > kMaxHeader)
		die("split: the header is over {} MiB", kMaxHeader >> 20);
	h.append(p, n);
}

// A pg_dump: the lines up to "COPY ... FROM stdin;" start every piece,
// the rows are records, and "\." with whatever follows ends every piece.
std::vector<Oid> split_sql(Store &s, ObjectWriter &w, int fd, const std::string &what, const SplitOptions &o)
{
	Pieces pieces(s, w, o, true);
	std::string line, footer;
	enum { head, rows, tail } phase = head;
	char b[65536];
	ssize_t n;
	auto take = [&](const std::string &l) {
		if (phase == head) {
			add_header(pieces.header, l.data(), l.size());
			if (l.compare(0, 5, "COPY ") == 0 && l.find("FROM stdin;") != std::string::npos)
				phase = rows;
		} else if (phase == rows && l != "\\.\n" && l != "\\.") {
			pieces.write(l.data(), l.size());
			pieces.record_end();
		} else {
			phase = tail;
			add_header(footer, l.data(), l.size());
		}
	};
	while ((n = ::read(fd, b, sizeof b)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die_errno("unable to read '" + what + "'");
		}
		for (ssize_t i = 0; i < n; i++) {
			line += b[i];
			if (b[i] == '\n') {
				take(line);
				line.clear();
			}
		}
	}
	if (!line.empty())
		take(line);
	if (phase == head)
		die("'{}' is not a pg_dump: no 'COPY ... FROM stdin;' line", what);
	pieces.finish(footer);
	return pieces.out;
}

} // namespace

std::vector<Oid> split_stream(Store &s, ObjectWriter &w, int fd, const std::string &what, const SplitOptions &o)
{
	mkdir_p(s.path("pach/tmp"));
	if (o.mode == "sql")
		return split_sql(s, w, fd, what, o);
	if (o.mode != "line" && o.mode != "json" && o.mode != "csv")
		die("unknown --split '{}' (expected line, json, csv or sql)", o.mode);
	Boundaries at(o.mode);
	Pieces pieces(s, w, o, false);
	uint64_t headers = 0, pending = 0;
	auto end_record = [&] {
		pending = 0;
		if (headers < o.header_records)
			headers++;
		else
			pieces.record_end();
	};
	char b[65536];
	ssize_t n;
	while ((n = ::read(fd, b, sizeof b)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die_errno("unable to read '" + what + "'");
		}
		// Runs of bytes between boundaries are written at once.
		ssize_t from = 0;
		auto emit = [&](ssize_t to) {
			if (to <= from)
				return;
			if (headers < o.header_records)
				add_header(pieces.header, b + from, (size_t)(to - from));
			else
				pieces.write(b + from, (size_t)(to - from));
			pending += (uint64_t)(to - from);
			from = to;
		};
		for (ssize_t i = 0; i < n; i++) {
			if (at.ends_before(b[i])) {
				emit(i);
				end_record();
			}
			if (at.ends_after(b[i])) {
				emit(i + 1);
				end_record();
			}
		}
		emit(n);
	}
	if (pending)
		end_record();
	pieces.close();
	return pieces.out;
}

} // namespace pach::porcelain
