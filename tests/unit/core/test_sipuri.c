/**
 * @file test_sipuri.c  SIP URI equivalence (RFC 3261 section 19.1.4): the
 *                      RFC's own examples, then the rules one by one
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <re.h>
#include "core/core.h"
#include "tests/unit/leakcheck.h"


struct vec {
	const char *a;
	const char *b;
	bool equal;
};


/* Each pair both ways round: the relation is symmetric. */
static void check(const struct vec *v, size_t n)
{
	long mark = leakcheck_mark();
	size_t i;

	for (i = 0; i < n; i++) {
		struct pl a, b;

		pl_set_str(&a, v[i].a);
		pl_set_str(&b, v[i].b);

		if (sipuri_equal(&a, &b) != v[i].equal ||
		    sipuri_equal(&b, &a) != v[i].equal)
			fail_msg("vector %zu: %s %s %s", i, v[i].a,
				 v[i].equal ? "!=" : "==", v[i].b);
	}

	leakcheck_assert(mark);
}


/* The sets of equivalent URIs that section 19.1.4 lists. */
static void test_rfc_equivalent(void **state)
{
	static const struct vec v[] = {
		{"sip:%61lice@atlanta.com;transport=TCP",
		 "sip:alice@AtLanTa.CoM;Transport=tcp", true},

		{"sip:carol@chicago.com",
		 "sip:carol@chicago.com;newparam=5", true},
		{"sip:carol@chicago.com",
		 "sip:carol@chicago.com;security=on", true},
		{"sip:carol@chicago.com;newparam=5",
		 "sip:carol@chicago.com;security=on", true},

		{"sip:biloxi.com;transport=tcp;method=REGISTER"
		 "?to=sip:bob%40biloxi.com",
		 "sip:biloxi.com;method=REGISTER;transport=tcp"
		 "?to=sip:bob%40biloxi.com", true},

		{"sip:alice@atlanta.com?subject=project%20x&priority=urgent",
		 "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
		 true},
	};
	(void)state;

	check(v, sizeof(v) / sizeof(v[0]));
}


/* The sets of URIs that are not equivalent, and the note that
 * equivalence is not transitive. */
static void test_rfc_not_equivalent(void **state)
{
	static const struct vec v[] = {
		/* different usernames */
		{"SIP:ALICE@AtLanTa.CoM;Transport=udp",
		 "sip:alice@AtLanTa.CoM;Transport=UDP", false},
		/* can resolve to different ports */
		{"sip:bob@biloxi.com", "sip:bob@biloxi.com:5060", false},
		/* can resolve to different transports */
		{"sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp",
		 false},
		/* can resolve to different port and transports */
		{"sip:bob@biloxi.com", "sip:bob@phone21.boxesbybob.com",
		 false},
		/* different header component */
		{"sip:carol@chicago.com",
		 "sip:carol@chicago.com?Subject=next%20meeting", false},
		/* even though that is what the name resolves to */
		{"sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4",
		 false},

		{"sip:carol@chicago.com",
		 "sip:carol@chicago.com;security=on", true},
		{"sip:carol@chicago.com",
		 "sip:carol@chicago.com;security=off", true},
		{"sip:carol@chicago.com;security=on",
		 "sip:carol@chicago.com;security=off", false},
	};
	(void)state;

	check(v, sizeof(v) / sizeof(v[0]));
}


/* The rules of 19.1.4 one at a time, on contacts like the registrar's. */
static void test_rules(void **state)
{
	static const struct vec v[] = {
		/* A SIP and a SIPS URI are never equivalent. */
		{"sip:alice@h", "sips:alice@h", false},
		{"SIPS:alice@h", "sips:alice@h", true},

		/* Userinfo is case-sensitive, the host is not. */
		{"sip:Alice@127.0.0.1:5070", "sip:alice@127.0.0.1:5070",
		 false},
		{"sip:alice@Example.COM", "sip:alice@example.com", true},
		{"sip:alice:secret@h", "sip:alice:Secret@h", false},

		/* Escapes: an unreserved character equals its escape, in
		 * either hex case; a reserved one does not. */
		{"sip:%41lice@h", "sip:Alice@h", true},
		{"sip:%6c%6C@h", "sip:ll@h", true},
		{"sip:%41lice@h", "sip:alice@h", false},
		{"sip:a%3bb@h", "sip:a%3Bb@h", true},
		{"sip:a%3Bb@h", "sip:a;b@h", false},
		{"sip:h;x=%41", "sip:h;x=a", true},
		{"sip:h?to=sip:b%40h", "sip:h?to=sip:b@h", false},

		/* User, password, host and port must match; an omitted
		 * one does not match one that is there. */
		{"sip:h", "sip:alice@h", false},
		{"sip:alice:pw@h", "sip:alice@h", false},
		{"sip:alice:@h", "sip:alice@h", false},
		{"sip:alice@h:5070", "sip:alice@h:5071", false},
		{"sip:alice@h:5070", "sip:alice@h:05070", true},
		{"sip:alice@h", "sip:alice@h:5060", false},
		{"sips:alice@h", "sips:alice@h:5061", false},

		/* Parameters: order and case do not count; one in both
		 * must match; one in only one is ignored, except user,
		 * ttl, method, maddr and transport. */
		{"sip:a@h;lr;transport=udp", "sip:a@h;Transport=UDP;LR",
		 true},
		{"sip:a@h;transport=tcp", "sip:a@h;transport=udp", false},
		{"sip:a@h;x=1", "sip:a@h;x=2", false},
		{"sip:a@h;x=1", "sip:a@h;y=2", true},
		{"sip:a@h;lr", "sip:a@h", true},
		{"sip:a@h;lr", "sip:a@h;lr=", true},
		{"sip:a@h;user=phone", "sip:a@h", false},
		{"sip:a@h;user=ip", "sip:a@h", false},
		{"sip:a@h;ttl=1", "sip:a@h", false},
		{"sip:a@h;method=INVITE", "sip:a@h", false},
		{"sip:a@h;maddr=239.255.255.1", "sip:a@h", false},
		{"sip:a@h;transport=udp", "sip:a@h", false},
		{"sip:a@h;Transport=udp", "sip:a@h;x=1", false},
		{"sip:a@h;method=register", "sip:a@h;METHOD=REGISTER", true},

		/* Headers: order and name case do not count; each must be
		 * in both and match (its value exactly, after escapes). */
		{"sip:a@h?x=1&y=2", "sip:a@h?y=2&x=1", true},
		{"sip:a@h?Subject=x", "sip:a@h?subject=x", true},
		{"sip:a@h?subject=x%20y", "sip:a@h?subject=x y", true},
		{"sip:a@h?subject=X", "sip:a@h?subject=x", false},
		{"sip:a@h?x=1", "sip:a@h?x=1&y=2", false},
		{"sip:a@h?x=1", "sip:a@h?y=1", false},

		/* A user with ';' (telephone-subscriber) and an '@' in a
		 * header value do not confuse the userinfo. */
		{"sip:+1234;phone-context=x@gw;user=phone",
		 "sip:+1234;phone-context=x@GW;USER=phone", true},
		{"sip:+1234;phone-context=x@gw;user=phone",
		 "sip:+1234;phone-context=X@gw;user=phone", false},
		{"sip:h?to=sip:b@h", "sip:H?to=sip:b@h", true},

		/* IPv6 references: case-insensitive, a port after them. */
		{"sip:a@[2001:DB8::1]:5070", "sip:a@[2001:db8::1]:5070",
		 true},
		{"sip:a@[2001:db8::1]", "sip:a@[2001:db8::1]:5070", false},
	};
	(void)state;

	check(v, sizeof(v) / sizeof(v[0]));
}


/* What is not a SIP or SIPS URI, or cannot be read as one, equals only
 * itself byte for byte; nothing reads past the end. */
static void test_not_sip_or_malformed(void **state)
{
	static const struct vec v[] = {
		{"tel:+1234", "tel:+1234", true},
		{"tel:+1234", "TEL:+1234", false},
		{"sip:alice@h", "tel:alice@h", false},
		{"sip:", "sip:", true},
		{"sip:", "SIP:", false},
		{"sip:a@", "sip:a@", true},
		{"sip:a@", "SIP:a@", false},
		{"sip:@h", "SIP:@h", false},
		{"sip:a@h:port", "SIP:a@h:port", false},
		{"sip:a@h:", "sip:a@h:", true},
		{"sip:a@h:123456", "sip:a@H:123456", false},
		{"sip:a@[::1", "sip:a@[::1", true},
		{"sip:a@[::1]x", "SIP:a@[::1]x", false},
		{"nocolon", "nocolon", true},
		{"", "", true},
		{"", "sip:a@h", false},
		/* A '%' without two hex digits is taken as it is. */
		{"sip:a%4@h", "sip:a%4@h", true},
		{"sip:a%4@h", "sip:a%40@h", false},
		{"sip:a@h;x=%", "sip:a@h;x=%", true},
		{"sip:a@h;x=%4", "sip:a@h;x=%40", false},
		{"sip:a@h;;x=1;", "sip:a@h;x=1", true},
	};
	struct pl a, b;
	(void)state;

	check(v, sizeof(v) / sizeof(v[0]));

	pl_set_str(&a, "sip:a@h");
	assert_false(sipuri_equal(&a, NULL));
	assert_false(sipuri_equal(NULL, &a));
	assert_false(sipuri_equal(NULL, NULL));

	/* A NUL byte is a character like another, not a separator. */
	a.p = "sip:a\0b@h";
	a.l = 10;
	b.p = "sip:a\0b@H";
	b.l = 10;
	assert_true(sipuri_equal(&a, &b));
	b.p = "sip:a\0b:h";
	assert_false(sipuri_equal(&a, &b));

	/* A pl that ends inside an escape is not read beyond its end. */
	pl_set_str(&a, "sip:a@h;x=%41");
	a.l -= 2;
	pl_set_str(&b, "sip:a@h;x=%");
	assert_true(sipuri_equal(&a, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_equivalent),
		cmocka_unit_test(test_rfc_not_equivalent),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_not_sip_or_malformed),
	};

	return cmocka_run_group_tests_name("core/sipuri", tests, NULL, NULL);
}
