// XML, just enough for S3's answers (and the requests pach sends):
// elements by tag, entities undone.  No DTDs, no namespaces, no nesting
// of one tag in itself; anything else is text.
#pragma once

#include <string>
#include <vector>

namespace pach::remote {

std::string xml_unescape(const std::string &s);
std::string xml_escape(const std::string &s);
// The text of every <tag>...</tag>, in order.
std::vector<std::string> xml_all(const std::string &text, const std::string &tag);
// The first one's, or "".
std::string xml_one(const std::string &text, const std::string &tag);

} // namespace pach::remote
