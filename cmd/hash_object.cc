#include "cmd/cmd.h"
#include "plumbing/snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pach::cmd {

extern const char *const kUsage_hash_object =
	"usage: pach hash-object [-w] [--stdin] [<file>...]\n\n"
	"Print the blob id of each file (as git hash-object); -w also writes it.\n";

int cmd_hash_object(Args &args)
{
	bool write = args.flag('w', nullptr);
	bool from_stdin = args.flag(0, "stdin");
	auto files = args.rest(from_stdin ? 0 : 1);
	std::unique_ptr<ObjectWriter> w;
	std::unique_ptr<FileLock> lock;
	if (write) {
		lock = args.store().lock_shared();
		w = std::make_unique<ObjectWriter>(args.store(), 1);
	}
	auto one = [&](int fd, const std::string &what, uint64_t size) {
		if (w)
			return w->blob_from_fd(fd, size, what);
		return hash_fd(fd, size, what);
	};
	std::vector<Oid> out;
	if (from_stdin) {
		// Size first: spool to a temporary file, never to memory.
		char tmpl[] = "/tmp/pach-stdin-XXXXXX";
		Fd t(mkstemp(tmpl));
		if (!t)
			die_errno("unable to create a temporary file");
		unlink(tmpl);
		std::vector<char> b(1 << 20);
		uint64_t size = 0;
		for (;;) {
			size_t n = read_full(0, b.data(), b.size(), "standard input");
			write_full(t.get(), b.data(), n, "temporary file");
			size += n;
			if (n < b.size())
				break;
		}
		lseek(t.get(), 0, SEEK_SET);
		out.push_back(one(t.get(), "standard input", size));
	}
	for (auto &f : files) {
		Fd fd(::open(f.c_str(), O_RDONLY | O_CLOEXEC));
		if (!fd)
			die_errno("unable to open '" + f + "'");
		struct stat st;
		fstat(fd.get(), &st);
		if (!S_ISREG(st.st_mode))
			die("'{}' is not a regular file", f);
		out.push_back(one(fd.get(), f, (uint64_t)st.st_size));
	}
	if (w)
		w->finish();
	for (auto &o : out)
		fmt::print("{}\n", o.hex());
	return 0;
}

} // namespace pach::cmd
