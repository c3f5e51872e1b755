#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "plumbing/quote.h"
#include "plumbing/tree_edit.h"

namespace pach::cmd {

Oid resolve_object(Store &s, const std::string &spec);

extern const char *const kUsage_ls_tree =
	"usage: pach ls-tree [-r] <tree-ish> [--json]\n\n"
	"List a tree as git ls-tree does: mode, type, id, name.\n";

int cmd_ls_tree(Args &args)
{
	bool rec = args.flag('r', nullptr);
	auto r = args.rest(1, 1);
	Store &s = args.store();
	Oid o = resolve_object(s, r[0]);
	ObjType t = s.object_type(o);
	if (t == ObjType::commit)
		o = s.read_commit(o).tree;
	else if (t != ObjType::tree)
		die("not a tree object: '{}'", r[0]);
	Json j;
	j.begin_array();
	auto print = [&](const std::string &p, const TreeEntry &e) {
		if (args.json) {
			j.begin_object().field("mode", fmt::format("{:06o}", e.mode)).field("type", e.is_dir() ? "tree" : "blob");
			j.field("id", e.oid).field("path", p).end_object().flush(stdout);
		} else {
			fmt::print("{:06o} {} {}\t{}\n", e.mode, e.is_dir() ? "tree" : "blob", e.oid.hex(), quote_path(p));
		}
	};
	if (rec) {
		walk_tree(s, o, [&](const std::string &p, const TreeEntry &e) {
			if (!e.is_dir())
				print(p, e);
			return true;
		});
	} else {
		for (auto &e : s.read_tree(o))
			print(e.name, e);
	}
	if (args.json) {
		j.end_array().flush(stdout);
		putchar('\n');
	}
	return 0;
}

} // namespace pach::cmd
