/**
 * @file test_token.c  The API's bearer token check, without sockets
 *
 * httpd_auth_check() decides every /api request of a server started with
 * --api-token-file.  The vectors follow RFC 6750 section 2.1 ("Bearer"
 * 1*SP b64token, the scheme case-insensitive) and RFC 9110 section 5.5
 * (whitespace around a field value is not part of it); the token itself
 * must match byte for byte.  test_httpd_api.c checks the wiring: the 401 on
 * the wire and the routes that stay open.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "http/http_int.h"

#define TOKEN "s3cr3t-T0ken_0123456789"


struct avec {
	const char *authz;      /* the header's value, NULL: absent */
	int want;
};

static const struct avec avecs[] = {
	/* good */
	{ "Bearer " TOKEN,                       0       },
	{ "bearer " TOKEN,                       0       },
	{ "BEARER " TOKEN,                       0       },
	{ "BeArEr " TOKEN,                       0       },
	/* 1*SP between scheme and token; whitespace around the value */
	{ "Bearer  " TOKEN,                      0       },
	{ "Bearer    " TOKEN,                    0       },
	{ "Bearer " TOKEN " ",                   0       },
	{ "Bearer " TOKEN " \t ",                0       },
	{ "  Bearer " TOKEN,                     0       },
	{ "\tBearer " TOKEN "\t",                0       },

	/* missing */
	{ NULL,                                  ENOENT  },
	{ "",                                    ENOENT  },
	{ "   ",                                 ENOENT  },
	{ " \t ",                                ENOENT  },

	/* another scheme, or no separator after the scheme */
	{ "Basic " TOKEN,                        EPROTO  },
	{ "Basic dXNlcjpwYXNz",                  EPROTO  },
	{ "Token " TOKEN,                        EPROTO  },
	{ "Bearer" TOKEN,                        EPROTO  },
	{ "Bearer\t" TOKEN,                      EPROTO  },
	{ "Bearer:" TOKEN,                       EPROTO  },
	{ "Bear " TOKEN,                         EPROTO  },
	{ "Bearers " TOKEN,                      EPROTO  },
	{ TOKEN,                                 EPROTO  },
	{ "Bea",                                 EPROTO  },

	/* the scheme without a token, or the wrong token */
	{ "Bearer",                              EACCES  },
	{ "Bearer ",                             EACCES  },
	{ "bearer   ",                           EACCES  },
	{ "Bearer s3cr3t-T0ken_0123456788",      EACCES  },
	{ "Bearer S3cr3t-T0ken_0123456789",      EACCES  },
	{ "Bearer x3cr3t-T0ken_0123456789",      EACCES  },
	{ "Bearer wrong",                        EACCES  },
	/* extra spaces inside the token, or more after it */
	{ "Bearer s3cr3t-T0ken 0123456789",      EACCES  },
	{ "Bearer s3cr3t-T0ken_01234 56789",     EACCES  },
	{ "Bearer s 3cr3t-T0ken_0123456789",     EACCES  },
	{ "Bearer " TOKEN " x",                  EACCES  },
	{ "Bearer " TOKEN " " TOKEN,             EACCES  },
	/* a prefix of the token, or the token and more */
	{ "Bearer s3cr3t-T0ken_012345678",       EACCES  },
	{ "Bearer s3cr3t",                       EACCES  },
	{ "Bearer s",                            EACCES  },
	{ "Bearer " TOKEN "0",                   EACCES  },
	{ "Bearer " TOKEN TOKEN,                 EACCES  },
	{ "Bearer 0" TOKEN,                      EACCES  },
	{ "Bearer " TOKEN ",",                   EACCES  },
	{ "Bearer \"" TOKEN "\"",                EACCES  },
};


static void test_authz(void **state)
{
	(void)state;

	for (size_t i = 0; i < sizeof(avecs) / sizeof(avecs[0]); i++) {
		const struct avec *v = &avecs[i];
		int got = httpd_auth_check(v->authz, TOKEN);

		if (got != v->want)
			print_error("vector %zu: '%s': %d, expected %d\n", i,
				    v->authz ? v->authz : "(null)", got,
				    v->want);
		assert_int_equal(got, v->want);
	}
}


/* Without a token there is nothing to compare against: the check never
 * says yes. */
static void test_no_token(void **state)
{
	(void)state;

	assert_int_equal(httpd_auth_check("Bearer " TOKEN, NULL), EINVAL);
	assert_int_equal(httpd_auth_check("Bearer ", ""), EINVAL);
	assert_int_equal(httpd_auth_check(NULL, NULL), EINVAL);
}


/* Tokens of the lengths --api-token-file allows, each against itself,
 * a copy with any one byte changed, and its neighbours in length. */
static void test_lengths(void **state)
{
	static const size_t lens[] = { 16, 17, 64, 255, 256 };
	char tok[257], authz[300];
	(void)state;

	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		size_t n = lens[k];

		for (size_t i = 0; i < n; i++)
			tok[i] = (char)('!' + (i * 7 + k) % 94);
		tok[n] = '\0';

		snprintf(authz, sizeof(authz), "Bearer %s", tok);
		assert_int_equal(httpd_auth_check(authz, tok), 0);

		for (size_t i = 0; i < n; i++) {
			char *c = authz + 7 + i;

			*c = *c == '~' ? '!' : (char)(*c + 1);
			assert_int_equal(httpd_auth_check(authz, tok), EACCES);
			*c = tok[i];
		}

		authz[7 + n - 1] = '\0';
		assert_int_equal(httpd_auth_check(authz, tok), EACCES);
		snprintf(authz, sizeof(authz), "Bearer %sx", tok);
		assert_int_equal(httpd_auth_check(authz, tok), EACCES);
	}
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authz),
		cmocka_unit_test(test_no_token),
		cmocka_unit_test(test_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
