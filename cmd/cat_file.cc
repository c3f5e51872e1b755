#include "cmd/cmd.h"
#include "plumbing/tree.h"

#include <cstdio>

namespace pach::cmd {

Oid resolve_object(Store &s, const std::string &spec);

extern const char *const kUsage_cat_file =
	"usage: pach cat-file (-t | -s | -e | -p) <object>\n\n"
	"    -t   type    -s   size    -e   exit 0 if it exists    -p   pretty-print\n"
	"<object> is a pach address (repo@ref[:/path]) or a git revision.\n";

int cmd_cat_file(Args &args)
{
	bool t = args.flag('t', nullptr), sz = args.flag('s', nullptr), e = args.flag('e', nullptr),
	     p = args.flag('p', nullptr);
	auto r = args.rest(1, 1);
	if (t + sz + e + p != 1)
		args.usage_error("give exactly one of -t, -s, -e, -p");
	Store &s = args.store();
	if (e) {
		try {
			Oid o = resolve_object(s, r[0]);
			return s.odb().contains(o) ? 0 : 1;
		} catch (const Error &) {
			return 1;
		}
	}
	Oid o = resolve_object(s, r[0]);
	auto rd = s.odb().open(o);
	if (!rd)
		die("object {} is missing", o.hex());
	if (t) {
		fmt::print("{}\n", type_name(rd->type()));
		return 0;
	}
	if (sz) {
		fmt::print("{}\n", rd->size());
		return 0;
	}
	if (rd->type() == ObjType::tree) {
		for (auto &x : s.read_tree(o))
			fmt::print("{:06o} {} {}\t{}\n", x.mode, x.is_dir() ? "tree" : "blob", x.oid.hex(), x.name);
		return 0;
	}
	fflush(stdout);
	std::vector<char> b(1 << 20);
	for (;;) {
		size_t n = rd->read(b.data(), b.size());
		if (!n)
			break;
		write_full(1, b.data(), n, "standard output");
	}
	return 0;
}

} // namespace pach::cmd
