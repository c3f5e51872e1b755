#include "plumbing/json.h"

#include <doctest/doctest.h>

using pach::Json;

TEST_CASE("Json: commas and nesting placed by the writer, strings escaped once")
{
	Json j;
	j.begin_object().field("id", "a\"b").field("n", 3).key("list").begin_array();
	j.str("x").num(int64_t(-1)).null().begin_object().field("ok", true).end_object();
	j.end_array().field("empty", std::optional<std::string>()).key("o").begin_object().end_object().end_object();
	CHECK(j.text() == "{\"id\":\"a\\\"b\",\"n\":3,\"list\":[\"x\",-1,null,{\"ok\":true}],\"empty\":null,\"o\":{}}");
	Json a;
	a.begin_array().end_array();
	CHECK(a.text() == "[]");
	Json f;
	f.begin_array().fixed(1.5, 3).raw("{\"x\":1}").end_array();
	CHECK(f.text() == "[1.500,{\"x\":1}]");
}
