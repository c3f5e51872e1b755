// The manual pages' AsciiDoc source, built into the binary (the Makefile
// generates the table from Documentation/pach*.adoc), and a plain-text
// rendering of it for `pach help <command>` where no man page is at hand.
#pragma once

#include <string>

namespace pach::cmd {

struct ManPage {
	const char *name;   // "pach-cat"
	const char *text;   // its AsciiDoc source
};
extern const ManPage kManPages[];   // ends with {nullptr, nullptr}

// The page's text as a terminal shows it: AsciiDoc markup taken out.
std::string render_manpage(const std::string &adoc);
const char *find_manpage(const std::string &name);

} // namespace pach::cmd
