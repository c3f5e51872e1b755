#include "remote/s3xml.h"

#include <doctest/doctest.h>

using namespace pach::remote;

TEST_CASE("S3 XML: elements by tag, in order, entities undone once")
{
	std::string x = "<ListBucketResult><Contents><Key>a&amp;b</Key><Size>3</Size></Contents>"
			"<Contents><Key>c&lt;d&gt;</Key><Size>10</Size></Contents></ListBucketResult>";
	auto c = xml_all(x, "Contents");
	REQUIRE(c.size() == 2);
	CHECK(xml_one(c[0], "Key") == "a&b");
	CHECK(xml_one(c[1], "Key") == "c<d>");
	CHECK(xml_one(c[1], "Size") == "10");
	CHECK(xml_one(x, "Nothing") == "");
	CHECK(xml_unescape("&amp;lt;") == "&lt;");          // not twice
	CHECK(xml_unescape("a & b &bogus;") == "a & b &bogus;");
	CHECK(xml_unescape("&quot;etag&quot;") == "\"etag\"");
}

TEST_CASE("S3 XML: unterminated or hostile text ends the list, never reads past it")
{
	CHECK(xml_all("<Key>a</Key><Key>b", "Key") == std::vector<std::string>{"a"});
	CHECK(xml_all("</Key><Key>", "Key").empty());
	CHECK(xml_all("", "Key").empty());
	std::string deep(100000, '<');
	CHECK(xml_all(deep, "Key").empty());
}

TEST_CASE("S3 XML: escaping what pach sends")
{
	CHECK(xml_escape("\"a\"&<b>") == "&quot;a&quot;&amp;&lt;b&gt;");
	CHECK(xml_unescape(xml_escape("x&y<z>\"")) == "x&y<z>\"");
}
