/*
 * meeting.c: applying meeting and forum events to the derived state (see
 * meeting.h). Pure bookkeeping: the rules live in meeting_ops.c, so
 * replaying a log never re-judges what was accepted.
 */
#include "meeting.h"

#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "textan.h"
#include "tv_protocol.h"

static const char *const poll_types[POLL__COUNT] = { "single", "multiple", "scale", "text" };
static const char *const item_kinds[] = { "theme", "talk", "dialogue", "break", "lunch",
					  "closing" };

const char *meeting_poll_type_name(int t)
{
	return t >= 0 && t < POLL__COUNT ? poll_types[t] : "single";
}

int meeting_poll_type_parse(const char *s)
{
	for (int i = 0; i < POLL__COUNT; i++)
		if (strcmp(s, poll_types[i]) == 0)
			return i;
	return -1;
}

int meeting_item_kind_valid(const char *kind)
{
	for (size_t i = 0; i < sizeof item_kinds / sizeof *item_kinds; i++)
		if (strcmp(kind, item_kinds[i]) == 0)
			return 1;
	return 0;
}

struct meeting *meeting_new(void)
{
	struct meeting *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->hands = json_array();
	m->called = json_object();
	if (!m->hands) {
		free(m);
		return NULL;
	}
	map_init(&m->post_ix);
	map_init(&m->names);
	m->next_item = m->next_poll = m->next_round = m->next_thread = m->next_post = 1;
	return m;
}

static void free_value(const char *k, void *v, void *arg)
{
	free(v);
}

void meeting_free(struct meeting *m)
{
	if (!m)
		return;
	free(m->title);
	free(m->kind);
	for (size_t i = 0; i < m->nitems; i++) {
		free(m->items[i].title);
		free(m->items[i].kind);
		free(m->items[i].presenter);
	}
	free(m->items);
	for (size_t i = 0; i < m->npolls; i++) {
		struct mt_poll *p = &m->polls[i];
		free(p->question);
		json_decref(p->options);
		json_decref(p->results);
		for (size_t k = 0; k < p->nballots; k++) {
			free(p->ballots[k].name);
			json_decref(p->ballots[k].answer);
			json_decref(p->ballots[k].decided);
		}
		free(p->ballots);
	}
	free(m->polls);
	for (size_t i = 0; i < m->nrounds; i++) {
		struct mt_round *r = &m->rounds[i];
		free(r->prompt);
		for (size_t k = 0; k < r->nanswers; k++) {
			free(r->answers[k].name);
			free(r->answers[k].text);
		}
		free(r->answers);
	}
	free(m->rounds);
	json_decref(m->hands);
	json_decref(m->called);
	free(m->speaker_name);
	for (size_t i = 0; i < m->nposts; i++) {
		struct mt_post *p = &m->posts[i];
		free(p->author_name);
		free(p->title);
		free(p->text);
		json_decref(p->mentions);
		json_decref(p->history);
	}
	free(m->posts);
	map_free(&m->post_ix);
	for (size_t i = 0; i < m->ntargets; i++) {
		free(m->targets[i].author_name);
		free(m->targets[i].text);
		json_decref(m->targets[i].reactions);
	}
	free(m->targets);
	map_each(&m->names, free_value, NULL);
	map_free(&m->names);
	free(m);
}

/* ---- lookups ----------------------------------------------------------------------- */

/* "a12" with prefix "a" -> 12, or 0. */
static unsigned long id_no(const char *id, const char *prefix)
{
	size_t n = strlen(prefix);
	if (!id || strncmp(id, prefix, n) != 0 || id[n] < '1' || id[n] > '9')
		return 0;
	char *end;
	unsigned long k = strtoul(id + n, &end, 10);
	return *end ? 0 : k;
}

struct mt_item *meeting_item(struct meeting *m, const char *id)
{
	unsigned long k = id_no(id, "a");
	return k && k <= m->nitems ? &m->items[k - 1] : NULL;
}

struct mt_poll *meeting_poll(struct meeting *m, const char *id)
{
	unsigned long k = id_no(id, "p");
	return k && k <= m->npolls ? &m->polls[k - 1] : NULL;
}

struct mt_round *meeting_round(struct meeting *m, const char *id)
{
	unsigned long k = id_no(id, "rd");
	return k && k <= m->nrounds ? &m->rounds[k - 1] : NULL;
}

struct mt_post *meeting_post(struct meeting *m, const char *id)
{
	uintptr_t ix = id ? (uintptr_t)map_get(&m->post_ix, id) : 0;
	return ix ? &m->posts[ix - 1] : NULL;
}

struct mt_target *meeting_target(struct meeting *m, uint64_t seq)
{
	size_t lo = 0, hi = m->ntargets; /* binary search: targets ascend by seq */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->targets[mid].seq == seq)
			return &m->targets[mid];
		if (m->targets[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *meeting_name(struct meeting *m, const char *identity_id)
{
	return identity_id ? map_get(&m->names, identity_id) : NULL;
}

struct mt_ballot *meeting_ballot(struct mt_poll *p, const char *identity_id)
{
	for (size_t i = 0; i < p->nballots; i++)
		if (strcmp(p->ballots[i].identity, identity_id) == 0)
			return &p->ballots[i];
	return NULL;
}

json_t *meeting_ballot_answer(const struct mt_ballot *b)
{
	return b->decided ? b->decided : b->answer;
}

struct mt_ballot *meeting_ballot_add(struct mt_poll *p, const char *identity_id,
				     const char *name)
{
	struct mt_ballot *b = meeting_ballot(p, identity_id);
	if (b)
		return b;
	if (p->nballots == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		struct mt_ballot *nb = realloc(p->ballots, cap * sizeof *nb);
		if (!nb)
			return NULL;
		p->ballots = nb;
		p->cap = cap;
	}
	b = &p->ballots[p->nballots];
	memset(b, 0, sizeof *b);
	snprintf(b->identity, sizeof b->identity, "%s", identity_id);
	b->name = strdup(name ? name : "");
	if (!b->name)
		return NULL;
	p->nballots++;
	return b;
}

int meeting_hand_raised(const struct meeting *m, const char *identity_id)
{
	size_t i;
	json_t *h;
	json_array_foreach(m->hands, i, h)
		if (strcmp(json_string_value(json_object_get(h, "identity")), identity_id) == 0)
			return 1;
	return 0;
}

void meeting_forget_decisions(struct meeting *m)
{
	for (size_t i = 0; i < m->npolls; i++) {
		struct mt_poll *p = &m->polls[i];
		p->closing = p->closed;
		for (size_t k = 0; k < p->nballots; k++) {
			json_decref(p->ballots[k].decided);
			p->ballots[k].decided = NULL;
		}
	}
	for (size_t i = 0; i < m->nrounds; i++)
		m->rounds[i].closing = m->rounds[i].closed;
	json_object_clear(m->called);
}

/* ---- normalisation --------------------------------------------------------------------- */

char *meeting_normalise_answer(const char *s, size_t len)
{
	char *folded = NULL;
	if (textan_normalise(s, len, &folded))
		return NULL;
	size_t n = strlen(folded), o = 0;
	int space = 1; /* drops leading spaces */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)folded[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			if (!space)
				folded[o++] = ' ';
			space = 1;
			continue;
		}
		folded[o++] = (char)c;
		space = 0;
	}
	/* Trailing spaces and sentence punctuation ("Ja!", "ja.", "Kanske…"). */
	for (;;) {
		if (o && (folded[o - 1] == ' ' || folded[o - 1] == '.' || folded[o - 1] == '!' ||
			  folded[o - 1] == '?')) {
			o--;
		} else if (o >= 3 && memcmp(folded + o - 3, "\xE2\x80\xA6", 3) == 0) {
			o -= 3;
		} else {
			break;
		}
	}
	folded[o] = 0;
	return folded;
}

/* ---- results ------------------------------------------------------------------------- */

static int cmp_text_count(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t cx = json_integer_value(json_object_get(x, "count"));
	json_int_t cy = json_integer_value(json_object_get(y, "count"));
	if (cx != cy)
		return cx > cy ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "text")),
		      json_string_value(json_object_get(y, "text")));
}

json_t *meeting_poll_results(const struct mt_poll *p)
{
	json_t *r = json_object(), *counts = json_object(), *texts = json_object();
	json_t *ballots = p->anonymous ? NULL : json_array();
	long voters = 0, sum = 0;
	if (!r || !counts || !texts || (!p->anonymous && !ballots))
		goto oom;
	if (p->type == POLL_SINGLE || p->type == POLL_MULTIPLE) {
		size_t i;
		json_t *o;
		json_array_foreach(p->options, i, o)
			json_object_set_new(counts, json_string_value(json_object_get(o, "id")),
					    json_integer(0));
	} else if (p->type == POLL_SCALE) {
		for (int v = 1; v <= 5; v++) {
			char k[4];
			snprintf(k, sizeof k, "%d", v);
			json_object_set_new(counts, k, json_integer(0));
		}
	}
	for (size_t i = 0; i < p->nballots; i++) {
		const struct mt_ballot *b = &p->ballots[i];
		json_t *a = meeting_ballot_answer(b);
		if (!a)
			continue;
		voters++;
		if (ballots)
			json_array_append_new(ballots, json_pack("{s:s, s:s, s:O}", "identity",
								 b->identity, "name", b->name,
								 "answer", a));
		if (p->type == POLL_TEXT) {
			const char *t = json_string_value(a);
			if (!t)
				continue;
			json_int_t c = json_integer_value(json_object_get(texts, t));
			json_object_set_new(texts, t, json_integer(c + 1));
			continue;
		}
		json_t *list = json_is_array(a) ? a : NULL;
		size_t k, n = list ? json_array_size(list) : 1;
		for (k = 0; k < n; k++) {
			json_t *v = list ? json_array_get(list, k) : a;
			char key[24];
			if (json_is_integer(v)) {
				snprintf(key, sizeof key, "%lld", (long long)json_integer_value(v));
				sum += (long)json_integer_value(v);
			} else if (json_is_string(v)) {
				snprintf(key, sizeof key, "%s", json_string_value(v));
			} else {
				continue;
			}
			json_int_t c = json_integer_value(json_object_get(counts, key));
			json_object_set_new(counts, key, json_integer(c + 1));
		}
	}
	json_object_set_new(r, "voters", json_integer(voters));
	if (p->type == POLL_TEXT) {
		size_t n = json_object_size(texts), i = 0;
		json_t **arr = calloc(n ? n : 1, sizeof *arr), *v;
		const char *k;
		if (!arr)
			goto oom;
		json_object_foreach(texts, k, v)
			arr[i++] = json_pack("{s:s, s:O}", "text", k, "count", v);
		qsort(arr, n, sizeof *arr, cmp_text_count);
		json_t *answers = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(answers, arr[i]);
		free(arr);
		json_object_set_new(r, "answers", answers);
		json_decref(counts);
	} else {
		json_object_set_new(r, "counts", counts);
		if (p->type == POLL_SCALE)
			json_object_set_new(r, "mean", json_real(voters ? (double)sum / (double)voters
								       : 0.0));
	}
	json_decref(texts);
	if (ballots)
		json_object_set_new(r, "ballots", ballots);
	return r;
oom:
	json_decref(r);
	json_decref(counts);
	json_decref(texts);
	json_decref(ballots);
	return NULL;
}

/* ---- applying ---------------------------------------------------------------------------- */

static const char *str(json_t *d, const char *k)
{
	return json_string_value(json_object_get(d, k));
}

static void set_str(char **dst, const char *v)
{
	if (!v)
		return;
	char *c = strdup(v);
	if (!c)
		return;
	free(*dst);
	*dst = c;
}

static void grow(void **arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return;
	size_t nc = *cap ? 2 * *cap : 8;
	void *na = realloc(*arr, nc * size);
	if (na) {
		*arr = na;
		memset((char *)na + *cap * size, 0, (nc - *cap) * size);
		*cap = nc;
	}
}

static void note_name(struct meeting *m, const char *id, const char *name)
{
	if (!id || !name)
		return;
	char *old = map_get(&m->names, id);
	if (old && strcmp(old, name) == 0)
		return;
	char *c = strdup(name);
	if (c && map_put(&m->names, id, c) == 0)
		free(old);
	else
		free(c);
}

static void bump(unsigned *next, unsigned long k)
{
	if (*next <= k)
		*next = (unsigned)k + 1;
}

static void apply_item(struct meeting *m, const char *kind, json_t *d)
{
	const char *id = str(d, "id");
	if (strcmp(kind, "agenda.added") == 0) {
		unsigned long k = id_no(id, "a");
		if (k != m->nitems + 1)
			return;
		size_t cap = m->nitems;
		struct mt_item *ni = realloc(m->items, (cap + 1) * sizeof *ni);
		if (!ni)
			return;
		m->items = ni;
		struct mt_item *it = &m->items[m->nitems++];
		memset(it, 0, sizeof *it);
		snprintf(it->id, sizeof it->id, "%s", id);
		bump(&m->next_item, k);
	}
	struct mt_item *it = meeting_item(m, id);
	if (!it)
		return;
	if (strcmp(kind, "agenda.removed") == 0) {
		it->removed = 1;
		if (strcmp(m->current, it->id) == 0)
			m->current[0] = 0;
		return;
	}
	set_str(&it->title, str(d, "title"));
	set_str(&it->kind, str(d, "kind"));
	if (str(d, "presenter"))
		set_str(&it->presenter, str(d, "presenter"));
	if (str(d, "start"))
		snprintf(it->start, sizeof it->start, "%s", str(d, "start"));
	if (json_is_integer(json_object_get(d, "minutes")))
		it->minutes = (int)json_integer_value(json_object_get(d, "minutes"));
}

static void apply_poll(struct meeting *m, const struct tv_event *e, json_t *d)
{
	if (strcmp(e->kind, "poll.created") == 0) {
		const char *id = str(d, "id");
		unsigned long k = id_no(id, "p");
		if (k != m->npolls + 1)
			return;
		struct mt_poll *np = realloc(m->polls, (m->npolls + 1) * sizeof *np);
		if (!np)
			return;
		m->polls = np;
		struct mt_poll *p = &m->polls[m->npolls++];
		memset(p, 0, sizeof *p);
		snprintf(p->id, sizeof p->id, "%s", id);
		p->question = strdup(str(d, "question") ? str(d, "question") : "");
		int t = meeting_poll_type_parse(str(d, "type") ? str(d, "type") : "");
		p->type = t < 0 ? POLL_SINGLE : t;
		p->options = json_incref(json_object_get(d, "options"));
		if (!p->options)
			p->options = json_array();
		const char *an = str(d, "anonymity");
		p->anonymous = !an || strcmp(an, "named") != 0;
		const char *rs = str(d, "results");
		p->live = rs && strcmp(rs, "live") == 0;
		bump(&m->next_poll, k);
		return;
	}
	struct mt_poll *p = meeting_poll(m, str(d, "poll"));
	if (!p)
		return;
	if (strcmp(e->kind, "poll.closed") == 0) {
		p->closed = p->closing = 1;
		json_decref(p->results);
		p->results = json_incref(json_object_get(d, "results"));
		return;
	}
	if (strcmp(e->kind, "poll.answered") != 0 || !e->author_id)
		return;
	struct mt_ballot *b = meeting_ballot_add(p, e->author_id, e->author_name);
	json_t *a = json_object_get(d, "answer");
	if (!b || !a)
		return;
	json_decref(b->answer);
	b->answer = json_incref(a);
	/* Caught up with the latest decision: nothing is in flight any more. */
	if (b->decided && json_equal(b->decided, a)) {
		json_decref(b->decided);
		b->decided = NULL;
	}
}

static void apply_round(struct meeting *m, const struct tv_event *e, json_t *d)
{
	if (strcmp(e->kind, "round.opened") == 0) {
		const char *id = str(d, "id");
		unsigned long k = id_no(id, "rd");
		if (k != m->nrounds + 1)
			return;
		struct mt_round *nr = realloc(m->rounds, (m->nrounds + 1) * sizeof *nr);
		if (!nr)
			return;
		m->rounds = nr;
		struct mt_round *r = &m->rounds[m->nrounds++];
		memset(r, 0, sizeof *r);
		snprintf(r->id, sizeof r->id, "%s", id);
		snprintf(r->kind, sizeof r->kind, "%s", str(d, "kind") ? str(d, "kind") : "");
		r->prompt = strdup(str(d, "prompt") ? str(d, "prompt") : "");
		bump(&m->next_round, k);
		return;
	}
	struct mt_round *r = meeting_round(m, str(d, "round"));
	if (!r)
		return;
	if (strcmp(e->kind, "round.closed") == 0) {
		r->closed = r->closing = 1;
		return;
	}
	if (!e->author_id || !str(d, "text"))
		return;
	struct mt_round_answer *a = NULL;
	for (size_t i = 0; i < r->nanswers; i++)
		if (strcmp(r->answers[i].identity, e->author_id) == 0)
			a = &r->answers[i];
	if (!a) {
		grow((void **)&r->answers, &r->cap, r->nanswers, sizeof *r->answers);
		if (r->nanswers == r->cap)
			return;
		a = &r->answers[r->nanswers++];
		snprintf(a->identity, sizeof a->identity, "%s", e->author_id);
	}
	set_str(&a->name, e->author_name ? e->author_name : "");
	set_str(&a->text, str(d, "text"));
}

static void apply_hand(struct meeting *m, const struct tv_event *e, json_t *d)
{
	const char *who = str(d, "identity");
	if (strcmp(e->kind, "speaker.changed") == 0) {
		if (who)
			json_object_del(m->called, who);
		snprintf(m->speaker, sizeof m->speaker, "%s", who ? who : "");
		set_str(&m->speaker_name, str(d, "name") ? str(d, "name") : "");
	}
	if (!who)
		return;
	if (strcmp(e->kind, "hand.raised") == 0) {
		if (!meeting_hand_raised(m, who))
			json_array_append_new(m->hands, json_pack("{s:s, s:s}", "identity", who,
								  "name", str(d, "name") ? str(d, "name") : ""));
		return;
	}
	/* hand.lowered, and the next speaker leaves the queue */
	size_t i;
	json_t *h;
	json_array_foreach(m->hands, i, h)
		if (strcmp(json_string_value(json_object_get(h, "identity")), who) == 0) {
			json_array_remove(m->hands, i);
			break;
		}
}

static struct mt_target *target_add(struct meeting *m, const struct tv_event *e)
{
	if (m->ntargets && m->targets[m->ntargets - 1].seq >= e->seq)
		return NULL; /* seqs only rise */
	grow((void **)&m->targets, &m->targets_cap, m->ntargets, sizeof *m->targets);
	if (m->ntargets == m->targets_cap)
		return NULL;
	struct mt_target *t = &m->targets[m->ntargets++];
	memset(t, 0, sizeof *t);
	t->seq = e->seq;
	t->ts_ms = e->ts_ms;
	snprintf(t->kind, sizeof t->kind, "%s", e->kind);
	snprintf(t->author, sizeof t->author, "%s", e->author_id ? e->author_id : "");
	t->author_name = strdup(e->author_name ? e->author_name : "");
	t->reactions = json_object();
	return t;
}

static void apply_post(struct meeting *m, const struct tv_event *e, json_t *d)
{
	const char *id = str(d, "id");
	int thread = strcmp(e->kind, "thread.created") == 0;
	if (thread || strcmp(e->kind, "post.created") == 0) {
		unsigned long k = id_no(id, thread ? "th" : "m");
		if (!k || meeting_post(m, id))
			return;
		grow((void **)&m->posts, &m->posts_cap, m->nposts, sizeof *m->posts);
		if (m->nposts == m->posts_cap)
			return;
		struct mt_post *p = &m->posts[m->nposts];
		memset(p, 0, sizeof *p);
		if (map_put(&m->post_ix, id, (void *)(uintptr_t)(m->nposts + 1)))
			return;
		m->nposts++;
		snprintf(p->id, sizeof p->id, "%s", id);
		snprintf(p->thread, sizeof p->thread, "%s", thread ? "" : (str(d, "thread") ? str(d, "thread") : ""));
		snprintf(p->reply_to, sizeof p->reply_to, "%s", str(d, "reply_to") ? str(d, "reply_to") : "");
		snprintf(p->author, sizeof p->author, "%s", e->author_id ? e->author_id : "");
		p->author_name = strdup(e->author_name ? e->author_name : "");
		p->title = thread ? strdup(str(d, "title") ? str(d, "title") : "") : NULL;
		p->text = strdup(str(d, "text") ? str(d, "text") : "");
		p->mentions = json_incref(json_object_get(d, "mentions"));
		p->history = json_array();
		p->seq = e->seq;
		p->ts_ms = p->edited_ms = e->ts_ms;
		bump(thread ? &m->next_thread : &m->next_post, k);
		struct mt_target *t = target_add(m, e);
		if (t)
			snprintf(t->post, sizeof t->post, "%s", id);
		return;
	}
	struct mt_post *p = meeting_post(m, id);
	if (!p)
		return;
	if (strcmp(e->kind, "post.deleted") == 0) {
		p->deleted = 1;
		return;
	}
	/* post.edited: the version it replaces goes to the history */
	json_t *old = json_pack("{s:s, s:I}", "text", p->text ? p->text : "", "ts",
				(json_int_t)p->edited_ms);
	if (old && p->title)
		json_object_set_new(old, "title", json_string(p->title));
	json_array_append_new(p->history, old);
	set_str(&p->text, str(d, "text"));
	if (p->title)
		set_str(&p->title, str(d, "title"));
	p->edited_ms = e->ts_ms;
}

static void apply_reaction(struct meeting *m, const struct tv_event *e, json_t *d)
{
	struct mt_target *t = meeting_target(m, (uint64_t)json_integer_value(json_object_get(d, "target")));
	const char *emoji = str(d, "emoji");
	if (!t || !emoji || !e->author_id)
		return;
	json_t *who = json_object_get(t->reactions, emoji);
	if (!who) {
		who = json_array();
		json_object_set_new(t->reactions, emoji, who);
	}
	size_t i;
	json_t *v;
	json_array_foreach(who, i, v)
		if (strcmp(json_string_value(v), e->author_id) == 0)
			break;
	int on = json_is_true(json_object_get(d, "on"));
	if (on && i == json_array_size(who))
		json_array_append_new(who, json_string(e->author_id));
	else if (!on && i < json_array_size(who))
		json_array_remove(who, i);
	if (!json_array_size(who))
		json_object_del(t->reactions, emoji);
}

int meeting_apply(struct meeting *m, const struct tv_event *e)
{
	if (!e->seq)
		return 0;
	if (e->author_id && e->author_name)
		note_name(m, e->author_id, e->author_name);
	const char *k = e->kind;
	int ours = strcmp(k, "room.created") == 0 || strcmp(k, "member.joined") == 0 ||
		   strcmp(k, "chat.message") == 0 || strncmp(k, "agenda.", 7) == 0 ||
		   strncmp(k, "poll.", 5) == 0 || strncmp(k, "round.", 6) == 0 ||
		   strncmp(k, "hand.", 5) == 0 || strcmp(k, "speaker.changed") == 0 ||
		   strncmp(k, "thread.", 7) == 0 || strncmp(k, "post.", 5) == 0 ||
		   strcmp(k, "reaction.changed") == 0;
	if (!ours)
		return 0;
	json_t *d = json_loadb(e->data, e->data_len, JSON_ALLOW_NUL, NULL);
	if (!d)
		return 0;
	if (strcmp(k, "room.created") == 0) {
		set_str(&m->title, str(d, "title"));
		set_str(&m->kind, str(d, "kind"));
	} else if (strcmp(k, "member.joined") == 0) {
		note_name(m, str(d, "id"), str(d, "name"));
	} else if (strcmp(k, "chat.message") == 0) {
		struct mt_target *t = target_add(m, e);
		if (t) {
			t->text = strdup(str(d, "text") ? str(d, "text") : "");
			t->reply_to = (uint64_t)json_integer_value(json_object_get(d, "reply_to"));
		}
	} else if (strcmp(k, "reaction.changed") == 0) {
		apply_reaction(m, e, d);
	} else if (strcmp(k, "agenda.current") == 0) {
		snprintf(m->current, sizeof m->current, "%s", str(d, "item") ? str(d, "item") : "");
	} else if (strncmp(k, "agenda.", 7) == 0) {
		apply_item(m, k, d);
	} else if (strncmp(k, "poll.", 5) == 0) {
		apply_poll(m, e, d);
	} else if (strncmp(k, "round.", 6) == 0) {
		apply_round(m, e, d);
	} else if (strncmp(k, "hand.", 5) == 0 || strcmp(k, "speaker.changed") == 0) {
		apply_hand(m, e, d);
	} else {
		apply_post(m, e, d);
	}
	json_decref(d);
	return 0;
}
