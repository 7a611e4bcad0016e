/* map.c: open-addressing string map (see map.h). FNV-1a hashing. */
#include "map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tv_protocol.h"

static char tombstone_key;
#define MAP_TOMBSTONE (&tombstone_key)

static size_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)h;
}

void map_init(struct map *m)
{
	memset(m, 0, sizeof *m);
}

void map_free(struct map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != MAP_TOMBSTONE)
			free(m->slots[i].key);
	free(m->slots);
	map_init(m);
}

static struct map_slot *find(const struct map *m, const char *key, size_t h)
{
	if (!m->cap)
		return NULL;
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct map_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != MAP_TOMBSTONE && s->hash == h && strcmp(s->key, key) == 0)
			return s;
	}
}

void *map_get(const struct map *m, const char *key)
{
	struct map_slot *s = find(m, key, hash_str(key));
	return s ? s->value : NULL;
}

static int resize(struct map *m, size_t cap)
{
	struct map_slot *old = m->slots;
	size_t ocap = m->cap;
	m->slots = calloc(cap, sizeof *m->slots);
	if (!m->slots) {
		m->slots = old;
		return -TV_E_INTERNAL;
	}
	m->cap = cap;
	m->tombstones = 0;
	for (size_t i = 0; i < ocap; i++) {
		struct map_slot *s = &old[i];
		if (!s->key || s->key == MAP_TOMBSTONE)
			continue;
		size_t j = s->hash & (cap - 1);
		while (m->slots[j].key)
			j = (j + 1) & (cap - 1);
		m->slots[j] = *s;
	}
	free(old);
	return 0;
}

int map_put(struct map *m, const char *key, void *value)
{
	size_t h = hash_str(key);
	struct map_slot *s = find(m, key, h);
	if (s) {
		s->value = value;
		return 0;
	}
	if ((m->count + m->tombstones + 1) * 4 >= m->cap * 3) {
		size_t cap = m->cap ? m->cap : 16;
		while ((m->count + 1) * 4 >= cap * 3 / 2)
			cap *= 2;
		if (resize(m, cap))
			return -TV_E_INTERNAL;
	}
	char *k = strdup(key);
	if (!k)
		return -TV_E_INTERNAL;
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		s = &m->slots[i];
		if (!s->key || s->key == MAP_TOMBSTONE) {
			if (s->key == MAP_TOMBSTONE)
				m->tombstones--;
			s->key = k;
			s->hash = h;
			s->value = value;
			m->count++;
			return 0;
		}
	}
}

void *map_del(struct map *m, const char *key)
{
	struct map_slot *s = find(m, key, hash_str(key));
	if (!s)
		return NULL;
	void *v = s->value;
	free(s->key);
	s->key = MAP_TOMBSTONE;
	s->value = NULL;
	m->count--;
	m->tombstones++;
	return v;
}

void map_each(const struct map *m, void (*fn)(const char *, void *, void *), void *arg)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != MAP_TOMBSTONE)
			fn(m->slots[i].key, m->slots[i].value, arg);
}
