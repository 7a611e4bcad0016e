/*
 * config.c: the settings table of tavlad and everything driven by it.
 *
 * Responsible for: turning config.def into one static table of rows, and
 * using that table (never a chain of strcmp) to fill defaults, parse and
 * validate values from the config file or --NAME flags, word error messages
 * that name the key (and file and line), and write --help and the example
 * file ops/tavlad.conf. Not responsible for: acting on the settings, or for
 * deciding which of argv are flags (main strips "--" or passes it through;
 * config_set accepts both).
 *
 * Invariants:
 *  1. Every row of config.def appears exactly once in rows[], in file order,
 *     so the example file and --help list keys in the order of config.def.
 *  2. A field is only written after its new value passed every check, so a
 *     failed config_set leaves the struct as it was.
 *  3. String fields always point to heap memory owned by the struct (never
 *     to a literal), so config_free can free them unconditionally.
 *  4. Keys are matched with '-' and '_' treated as equal and an optional
 *     leading "--" ignored; messages use the row's own spelling.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct conf_row {
	const char *name;
	enum tv_conf_type type;
	size_t offset;        /* of the field in struct tv_config */
	const char *def_str;  /* TV_CT_STRING only */
	long long def_num;    /* the other types */
	long long min, max;   /* value bounds, or length bounds for strings */
	const char *help;
};

#define ROW_DEF_TV_CT_STRING(d) .def_str = d
#define ROW_DEF_TV_CT_INT(d) .def_num = d
#define ROW_DEF_TV_CT_BOOL(d) .def_num = d
#define ROW_DEF_TV_CT_SIZE(d) .def_num = d
/* Parameter names avoid the member names: .min = min would expand both. */
#define TV_CONF(n, t, f, d, lo, hi, h)                                        \
	{ .name = #n, .type = t, .offset = offsetof(struct tv_config, f),         \
	  ROW_DEF_##t(d), .min = lo, .max = hi, .help = h },
static const struct conf_row rows[] = {
#include "config.def"
};
#undef TV_CONF
#undef ROW_DEF_TV_CT_STRING
#undef ROW_DEF_TV_CT_INT
#undef ROW_DEF_TV_CT_BOOL
#undef ROW_DEF_TV_CT_SIZE

#define NROWS (sizeof rows / sizeof rows[0])

/* String settings whose value must be one of a fixed set. The row's
 * MIN..MAX length still applies; it is implied by the words. */
struct conf_choice {
	const char *key;
	const char *const *words; /* NULL-terminated */
};
static const char *const log_level_words[] = { "error", "warn", "info", "debug", NULL };
static const char *const sync_words[] = { "full", "normal", NULL };
static const struct conf_choice choices[] = {
	{ "log_level", log_level_words },
	{ "sync", sync_words },
};

static const char *const bool_true[] = { "yes", "true", "on", "1", NULL };
static const char *const bool_false[] = { "no", "false", "off", "0", NULL };

#define DATA_DIR_ENV "TAVLA_DATA"

/* ---- small helpers ------------------------------------------------------ */

static char **str_field(struct tv_config *c, const struct conf_row *r)
{
	return (char **)(void *)((char *)c + r->offset);
}

static long long *num_field(struct tv_config *c, const struct conf_row *r)
{
	return (long long *)(void *)((char *)c + r->offset);
}

static int *bool_field(struct tv_config *c, const struct conf_row *r)
{
	return (int *)(void *)((char *)c + r->offset);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Copies v into buf for an error message, cut to a readable length. */
static const char *shown(char *buf, size_t buflen, const char *v)
{
	size_t n = strlen(v);
	const size_t keep = buflen > 4 ? buflen - 4 : 0;

	if (n < buflen) {
		memcpy(buf, v, n + 1);
	} else {
		memcpy(buf, v, keep);
		memcpy(buf + keep, "...", 4);
	}
	return buf;
}

static int key_equal(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		char x = *a == '-' ? '_' : *a;
		char y = *b == '-' ? '_' : *b;
		if (x != y)
			return 0;
	}
	return *a == *b;
}

static const struct conf_row *find_row(const char *key)
{
	if (strncmp(key, "--", 2) == 0)
		key += 2;
	for (size_t i = 0; i < NROWS; i++)
		if (key_equal(key, rows[i].name))
			return &rows[i];
	return NULL;
}

static const char *const *row_choices(const struct conf_row *r)
{
	for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++)
		if (strcmp(choices[i].key, r->name) == 0)
			return choices[i].words;
	return NULL;
}

static int word_in(const char *v, const char *const *words, int nocase)
{
	for (; *words != NULL; words++)
		if (nocase ? strcasecmp(v, *words) == 0 : strcmp(v, *words) == 0)
			return 1;
	return 0;
}

/* Writes the words as "a, b, c" into buf. */
static void join_words(char *buf, size_t buflen, const char *const *words)
{
	size_t used = 0;

	buf[0] = '\0';
	for (; *words != NULL && used < buflen; words++) {
		int n = snprintf(buf + used, buflen - used, "%s%s",
		                 used > 0 ? ", " : "", *words);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* Strict decimal: optional '-', then digits only, nothing after. Returns 0,
 * -EINVAL for anything else, -ERANGE when it does not fit a long long. */
static int parse_decimal(const char *s, long long *out)
{
	const char *p = s;
	char *end;

	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	return 0;
}

/* Digits with an optional k/m/g suffix (binary, either case). */
static int parse_size(const char *s, long long *out)
{
	const char *p = s;
	unsigned long long v = 0;
	unsigned shift = 0;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > ((unsigned long long)LLONG_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	switch (*p) {
	case '\0': break;
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	default: return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	if (v > ((unsigned long long)LLONG_MAX >> shift))
		return -ERANGE;
	*out = (long long)(v << shift);
	return 0;
}

/* "64k" for 65536; plain digits when no suffix divides evenly. */
static void format_size(char *buf, size_t buflen, long long v)
{
	static const struct { unsigned shift; char suffix; } units[] = {
		{ 30, 'g' }, { 20, 'm' }, { 10, 'k' },
	};

	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		long long unit = 1LL << units[i].shift;
		if (v > 0 && v % unit == 0) {
			snprintf(buf, buflen, "%lld%c", v / unit, units[i].suffix);
			return;
		}
	}
	snprintf(buf, buflen, "%lld", v);
}

/* ---- setting one value -------------------------------------------------- */

static int set_string(struct tv_config *c, const struct conf_row *r,
                      const char *value, char *err, size_t errlen)
{
	const char *const *words = row_choices(r);
	size_t len = strlen(value);
	char vb[80];
	char *copy;

	if (words != NULL && !word_in(value, words, 0)) {
		char list[128];
		join_words(list, sizeof list, words);
		set_err(err, errlen, "%s: \"%s\" is not one of %s", r->name,
		        shown(vb, sizeof vb, value), list);
		return -EINVAL;
	}
	if ((long long)len < r->min || (long long)len > r->max) {
		set_err(err, errlen, "%s: \"%s\" is %zu bytes long; accepted: %lld..%lld bytes",
		        r->name, shown(vb, sizeof vb, value), len, r->min, r->max);
		return -EINVAL;
	}
	copy = strdup(value);
	if (copy == NULL) {
		set_err(err, errlen, "%s: out of memory", r->name);
		return -ENOMEM;
	}
	free(*str_field(c, r));
	*str_field(c, r) = copy;
	return 0;
}

static int set_number(struct tv_config *c, const struct conf_row *r,
                      const char *value, char *err, size_t errlen)
{
	int is_size = r->type == TV_CT_SIZE;
	long long v = 0;
	char vb[80];
	int rc = is_size ? parse_size(value, &v) : parse_decimal(value, &v);

	if (rc == -EINVAL) {
		if (is_size)
			set_err(err, errlen, "%s: \"%s\" is not a size; accepted: %lld..%lld bytes, "
			        "optionally with a k, m or g suffix", r->name,
			        shown(vb, sizeof vb, value), r->min, r->max);
		else
			set_err(err, errlen, "%s: \"%s\" is not a decimal integer; accepted: %lld..%lld",
			        r->name, shown(vb, sizeof vb, value), r->min, r->max);
		return -EINVAL;
	}
	if (rc == -ERANGE || v < r->min || v > r->max) {
		set_err(err, errlen, "%s: \"%s\" is out of range %lld..%lld%s", r->name,
		        shown(vb, sizeof vb, value), r->min, r->max, is_size ? " bytes" : "");
		return -EINVAL;
	}
	*num_field(c, r) = v;
	return 0;
}

static int set_bool(struct tv_config *c, const struct conf_row *r,
                    const char *value, char *err, size_t errlen)
{
	char vb[80];

	if (word_in(value, bool_true, 1)) {
		*bool_field(c, r) = 1;
		return 0;
	}
	if (word_in(value, bool_false, 1)) {
		*bool_field(c, r) = 0;
		return 0;
	}
	set_err(err, errlen, "%s: \"%s\" is not a boolean; accepted: yes, no, true, false, "
	        "on, off, 1, 0", r->name, shown(vb, sizeof vb, value));
	return -EINVAL;
}

static int set_row(struct tv_config *c, const struct conf_row *r,
                   const char *value, char *err, size_t errlen)
{
	switch (r->type) {
	case TV_CT_STRING: return set_string(c, r, value, err, errlen);
	case TV_CT_INT:
	case TV_CT_SIZE: return set_number(c, r, value, err, errlen);
	case TV_CT_BOOL: return set_bool(c, r, value, err, errlen);
	}
	set_err(err, errlen, "%s: bad row type", r->name);
	return -EINVAL;
}

/* Borrows key and value; copies a string value. On failure the struct is
 * unchanged (invariant 2). */
int config_set(struct tv_config *c, const char *key, const char *value,
               char *err, size_t errlen)
{
	const struct conf_row *r = find_row(key);
	char kb[80];

	if (r == NULL) {
		set_err(err, errlen, "unknown key \"%s\"", shown(kb, sizeof kb, key));
		return -EINVAL;
	}
	if (value == NULL) { /* a flag given last, without its value */
		set_err(err, errlen, "%s: missing value", r->name);
		return -EINVAL;
	}
	return set_row(c, r, value, err, errlen);
}

/* ---- defaults and release ----------------------------------------------- */

/* Assumes nothing about *c (it may be uninitialised). Returns 0, -ENOMEM, or
 * -EINVAL when $TAVLA_DATA is longer than data_dir allows; on failure no
 * memory is left allocated. */
int config_defaults(struct tv_config *c)
{
	const char *data_env = getenv(DATA_DIR_ENV);

	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < NROWS; i++) {
		const struct conf_row *r = &rows[i];
		switch (r->type) {
		case TV_CT_STRING: {
			const char *v = r->def_str;
			if (strcmp(r->name, "data_dir") == 0 && data_env != NULL && data_env[0] != '\0')
				v = data_env;
			int rc = set_string(c, r, v, NULL, 0);
			if (rc < 0) {
				config_free(c);
				return rc;
			}
			break;
		}
		case TV_CT_INT:
		case TV_CT_SIZE:
			*num_field(c, r) = r->def_num;
			break;
		case TV_CT_BOOL:
			*bool_field(c, r) = (int)r->def_num;
			break;
		}
	}
	return 0;
}

void config_free(struct tv_config *c)
{
	for (size_t i = 0; i < NROWS; i++) {
		if (rows[i].type != TV_CT_STRING)
			continue;
		char **p = str_field(c, &rows[i]);
		free(*p);
		*p = NULL;
	}
}

/* ---- the config file ---------------------------------------------------- */

/* Parses one line in place. Sets *key to NULL for a blank or comment line.
 * Returns 0, or -EINVAL with the problem in err (without the PATH:LINE). */
static int split_line(char *line, char **key, char **value, char *err, size_t errlen)
{
	char *p = line;
	char *k;

	*key = NULL;
	*value = NULL;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	k = p;
	while (*p != '\0' && !isspace((unsigned char)*p))
		p++;
	if (*p == '\0') {
		set_err(err, errlen, "%s: missing value", k);
		return -EINVAL;
	}
	*p++ = '\0';
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0') {
		set_err(err, errlen, "%s: missing value", k);
		return -EINVAL;
	}
	if (*p == '"') {
		/* Unescape in place: the output never runs ahead of the input. */
		char *out = ++p;
		*value = out;
		for (;;) {
			if (*p == '\0') {
				set_err(err, errlen, "%s: missing closing quote", k);
				return -EINVAL;
			}
			if (*p == '"')
				break;
			if (*p == '\\') {
				if (p[1] != '"' && p[1] != '\\') {
					set_err(err, errlen, "%s: unknown escape in quoted value "
					        "(only \\\" and \\\\ are accepted)", k);
					return -EINVAL;
				}
				p++;
			}
			*out++ = *p++;
		}
		p++;
		*out = '\0';
	} else {
		*value = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '\0') {
		set_err(err, errlen, "%s: unexpected text after the value "
		        "(quote values that contain spaces)", k);
		return -EINVAL;
	}
	*key = k;
	return 0;
}

/* Applies the file line by line. On error the lines before the bad one stay
 * applied: callers that must keep their old settings (SIGHUP) load into a
 * fresh struct and swap on success. */
int config_load_file(struct tv_config *c, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;
	int rc = 0;

	if (fp == NULL) {
		rc = -errno;
		set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	while ((n = getline(&line, &cap, fp)) >= 0) {
		char msg[512];
		char *key, *value;

		lineno++;
		if (strlen(line) != (size_t)n) {
			snprintf(msg, sizeof msg, "NUL byte in line");
			rc = -EINVAL;
		} else {
			rc = split_line(line, &key, &value, msg, sizeof msg);
			if (rc == 0 && key != NULL)
				rc = config_set(c, key, value, msg, sizeof msg);
		}
		if (rc < 0) {
			set_err(err, errlen, "%s:%lu: %s", path, lineno, msg);
			break;
		}
	}
	if (rc == 0 && ferror(fp)) {
		rc = -EIO;
		set_err(err, errlen, "%s: read error", path);
	}
	free(line);
	fclose(fp);
	return rc;
}

/* ---- --help and the example file ---------------------------------------- */

/* Writes text word by word: the first line after first, the others after
 * cont, each line at most width columns unless one word is longer. */
static void write_wrapped(FILE *fp, const char *first, const char *cont,
                          const char *text, size_t width)
{
	const char *prefix = first;
	const char *p = text;

	while (*p != '\0') {
		size_t col = strlen(prefix);
		size_t words = 0;

		fputs(prefix, fp);
		while (*p != '\0') {
			size_t len = strcspn(p, " ");
			size_t need = (words > 0 ? 1 : 0) + len;
			if (words > 0 && col + need > width)
				break;
			if (words > 0)
				fputc(' ', fp);
			fwrite(p, 1, len, fp);
			col += need;
			words++;
			p += len;
			while (*p == ' ')
				p++;
		}
		fputc('\n', fp);
		prefix = cont;
	}
}

/* Renders a row's default as it would be written in the file. */
static void format_default(char *buf, size_t buflen, const struct conf_row *r)
{
	switch (r->type) {
	case TV_CT_STRING: {
		const char *v = r->def_str;
		size_t used = 0;
		int quote = v[0] == '\0' || v[0] == '"' || v[strcspn(v, " \t")] != '\0';
		if (!quote) {
			snprintf(buf, buflen, "%s", v);
			return;
		}
		if (buflen < 3) {
			buf[0] = '\0';
			return;
		}
		buf[used++] = '"';
		for (; *v != '\0' && used + 4 < buflen; v++) {
			if (*v == '"' || *v == '\\')
				buf[used++] = '\\';
			buf[used++] = *v;
		}
		buf[used++] = '"';
		buf[used] = '\0';
		return;
	}
	case TV_CT_INT:
		snprintf(buf, buflen, "%lld", r->def_num);
		return;
	case TV_CT_SIZE:
		format_size(buf, buflen, r->def_num);
		return;
	case TV_CT_BOOL:
		snprintf(buf, buflen, "%s", r->def_num ? "yes" : "no");
		return;
	}
	buf[0] = '\0';
}

static const char example_header[] =
	"# tavlad.conf: settings of the tavla daemon.\n"
	"#\n"
	"# tavlad reads this file at start. One setting per line: a key, whitespace,\n"
	"# then the value. A value that contains spaces is written in double quotes,\n"
	"# with \\\" and \\\\ as the only escapes. Lines starting with # are\n"
	"# comments. A key given twice takes its last value.\n"
	"#\n"
	"# Every key is also a command-line flag, --NAME VALUE, and flags override\n"
	"# this file. Dashes and underscores in names are interchangeable.\n"
	"#\n"
	"# Every setting below is commented out and shows its default, so this file\n"
	"# changes nothing until a line is uncommented. Sizes are in bytes and take\n"
	"# binary k, m and g suffixes (64k = 65536). tavlad --print-config writes\n"
	"# this file afresh.\n";

void config_write_example(FILE *fp)
{
	fputs(example_header, fp);
	for (size_t i = 0; i < NROWS; i++) {
		const struct conf_row *r = &rows[i];
		const char *const *words = row_choices(r);
		char def[128], lo[32], hi[32], list[128];

		fputc('\n', fp);
		write_wrapped(fp, "# ", "# ", r->help, 78);
		if (words != NULL) {
			join_words(list, sizeof list, words);
			fprintf(fp, "# values: %s\n", list);
		} else if (r->type == TV_CT_BOOL) {
			fputs("# values: yes, no\n", fp);
		} else if (r->type == TV_CT_STRING) {
			fprintf(fp, "# length: %lld..%lld bytes\n", r->min, r->max);
		} else if (r->type == TV_CT_SIZE) {
			format_size(lo, sizeof lo, r->min);
			format_size(hi, sizeof hi, r->max);
			fprintf(fp, "# range: %lld..%lld bytes (%s..%s)\n", r->min, r->max, lo, hi);
		} else {
			fprintf(fp, "# range: %lld..%lld\n", r->min, r->max);
		}
		format_default(def, sizeof def, r);
		fprintf(fp, "# %s %s\n", r->name, def);
	}
}

void config_write_help(FILE *fp)
{
	size_t width = 0;

	for (size_t i = 0; i < NROWS; i++) {
		size_t w = strlen("  --") + strlen(rows[i].name) + strlen(" VALUE");
		if (w > width)
			width = w;
	}
	width += 2;
	for (size_t i = 0; i < NROWS; i++) {
		const struct conf_row *r = &rows[i];
		char first[96], cont[96], def[128], text[512];

		snprintf(first, sizeof first, "  --%s VALUE", r->name);
		snprintf(first + strlen(first), sizeof first - strlen(first), "%*s",
		         (int)(width - strlen(first)), "");
		snprintf(cont, sizeof cont, "%*s", (int)width, "");
		format_default(def, sizeof def, r);
		snprintf(text, sizeof text, "%s (default: %s)", r->help, def);
		write_wrapped(fp, first, cont, text, 79);
	}
}
