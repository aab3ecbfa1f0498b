/* Config trees and YAML: building, typed reads under YAML 1.2's core schema,
 * every error message, marks, anchors, used-key tracking, clone/free and
 * the writer's round trip (parse -> to_yaml -> parse gives the same tree). */
#include "fixture.h"
#include <ltrain/cfg.h>

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ---- */

static lt_cfg *parse(const char *yaml, const char *file)
{
    lt_cfg *c = lt_cfg_parse_yaml(yaml, strlen(yaml), file);
    ck_assert_msg(c != NULL, "parse failed: %s", lt_last_error());
    return c;
}

/* The parse must fail with exactly this message. */
static void parse_fails(const char *yaml, const char *message)
{
    lt_clear_error();
    lt_cfg *c = lt_cfg_parse_yaml(yaml, strlen(yaml), "bad.yaml");
    ck_assert_msg(c == NULL, "parsed, but expected: %s", message);
    ck_assert_str_eq(lt_last_error(), message);
}

static lt_cfg *at_path(const lt_cfg *root, const char *k1, const char *k2)
{
    lt_cfg *c = lt_cfg_peek(root, k1);
    return k2 ? lt_cfg_peek(c, k2) : c;
}

/* What a scalar means: its text and whether it reads as a string. */
enum meaning { M_NULL, M_BOOL, M_NUMBER, M_STRING, M_LIST, M_MAP };

static enum meaning meaning(const lt_cfg *c)
{
    if (lt_cfg_is_null(c)) return M_NULL;
    if (c->type == LT_CFG_LIST) return M_LIST;
    if (c->type == LT_CFG_MAP) return M_MAP;
    if (lt_cfg_is_bool(c)) return M_BOOL;
    if (lt_cfg_is_number(c)) return M_NUMBER;
    return M_STRING;
}

/* Same structure, same keys in order, same scalar texts and meanings. */
static bool same_tree(const lt_cfg *a, const lt_cfg *b)
{
    enum meaning m = meaning(a);
    if (m != meaning(b)) return false;
    if (m == M_NULL) return true;
    if (m != M_LIST && m != M_MAP) return strcmp(a->text, b->text) == 0;
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++) {
        if (m == M_MAP && strcmp(a->keys[i], b->keys[i]) != 0) return false;
        if (!same_tree(a->items[i], b->items[i])) return false;
    }
    return true;
}

/* to_yaml, parse back, compare; returns the text for further checks. */
static char *round_trip(const lt_cfg *c)
{
    char *yaml = lt_cfg_to_yaml(c);
    ck_assert_msg(yaml != NULL, "to_yaml failed: %s", lt_last_error());
    lt_cfg *back = lt_cfg_parse_yaml(yaml, strlen(yaml), "rt.yaml");
    ck_assert_msg(back != NULL, "written YAML does not parse: %s\n%s", lt_last_error(), yaml);
    ck_assert_msg(same_tree(c, back), "round trip changed the tree:\n%s", yaml);
    lt_cfg_free(back);
    return yaml;
}

static lt_cfg *scalar(const char *text, bool quoted)
{
    lt_cfg *c = lt_cfg_new_scalar(text, quoted);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* ---- building and reading ---- */

START_TEST(test_build_and_access)
{
    lt_cfg *map = lt_cfg_new(LT_CFG_MAP);
    ck_assert_int_eq(lt_cfg_set(map, "lr", scalar("0.1", false)), 0);
    ck_assert_int_eq(lt_cfg_set(map, "name", scalar("resnet", true)), 0);
    lt_cfg *list = lt_cfg_new(LT_CFG_LIST);
    for (int i = 0; i < 9; i++) { /* past the first growth */
        char t[8];
        snprintf(t, sizeof t, "%d", i);
        ck_assert_int_eq(lt_cfg_append(list, scalar(t, false)), 0);
    }
    ck_assert_int_eq(lt_cfg_set(map, "sizes", list), 0);
    ck_assert_int_eq(map->n, 3);
    ck_assert_str_eq(map->keys[2], "sizes");

    ck_assert_ptr_eq(lt_cfg_peek(map, "sizes"), list);
    ck_assert_ptr_null(lt_cfg_peek(map, "missing"));
    ck_assert_ptr_null(lt_cfg_get(list, "x")); /* not a map */
    ck_assert_ptr_null(lt_cfg_at(map, 0));     /* not a list */
    ck_assert_ptr_null(lt_cfg_at(list, 9));
    ck_assert_ptr_null(lt_cfg_at(list, -1));
    ck_assert_str_eq(lt_cfg_at(list, 8)->text, "8");

    /* replacing keeps the position; the old value is freed (ASan) */
    ck_assert_int_eq(lt_cfg_set(map, "lr", scalar("0.01", false)), 0);
    ck_assert_int_eq(map->n, 3);
    ck_assert_str_eq(map->keys[0], "lr");
    ck_assert_str_eq(lt_cfg_peek(map, "lr")->text, "0.01");

    ck_assert_int_eq(lt_cfg_remove(map, "name"), 1);
    ck_assert_int_eq(lt_cfg_remove(map, "name"), 0);
    ck_assert_int_eq(map->n, 2);
    ck_assert_str_eq(map->keys[1], "sizes");
    ck_assert_int_eq(lt_cfg_remove(list, "x"), -1);
    ck_assert_str_eq(lt_last_error(), "lt_cfg_remove: expected a map, got list");

    lt_cfg *null = lt_cfg_new(LT_CFG_NULL);
    ck_assert(lt_cfg_is_null(null));
    lt_cfg *empty = lt_cfg_new(LT_CFG_SCALAR);
    ck_assert(lt_cfg_is_null(empty)); /* an empty plain scalar, like "key:" */
    ck_assert(lt_cfg_is_null(NULL));
    lt_cfg_free(null);
    lt_cfg_free(empty);
    ck_assert_str_eq(lt_cfg_type_name(LT_CFG_NULL), "null");
    ck_assert_str_eq(lt_cfg_type_name(LT_CFG_SCALAR), "scalar");
    ck_assert_str_eq(lt_cfg_type_name(LT_CFG_LIST), "list");
    ck_assert_str_eq(lt_cfg_type_name(LT_CFG_MAP), "map");
    lt_cfg_free(map);
    lt_cfg_free(NULL);
}
END_TEST

START_TEST(test_build_errors)
{
    lt_cfg *map = lt_cfg_new(LT_CFG_MAP);
    lt_cfg *list = lt_cfg_new(LT_CFG_LIST);
    /* a failed call that took ownership frees the value (ASan checks) */
    ck_assert_int_eq(lt_cfg_append(map, scalar("x", false)), -1);
    ck_assert_str_eq(lt_last_error(), "lt_cfg_append: expected a list, got map");
    ck_assert_int_eq(lt_cfg_set(list, "k", scalar("x", false)), -1);
    ck_assert_str_eq(lt_last_error(), "lt_cfg_set: expected a map, got list");
    ck_assert_int_eq(lt_cfg_set(NULL, "k", scalar("x", false)), -1);
    ck_assert_str_eq(lt_last_error(), "lt_cfg_set: expected a map, got NULL");
    ck_assert_int_eq(lt_cfg_set(map, NULL, scalar("x", false)), -1);
    ck_assert_str_eq(lt_last_error(), "lt_cfg_set: key is NULL");
    /* a NULL value keeps the error of whatever failed to build it */
    lt_set_error("first");
    ck_assert_int_eq(lt_cfg_set(map, "k", NULL), -1);
    ck_assert_int_eq(lt_cfg_append(list, NULL), -1);
    ck_assert_str_eq(lt_last_error(), "first");
    ck_assert_ptr_null(lt_cfg_new_scalar(NULL, false));
    ck_assert_str_eq(lt_last_error(), "lt_cfg_new_scalar: text is NULL");
    ck_assert_ptr_null(lt_cfg_new((lt_cfg_type)7));
    ck_assert_str_eq(lt_last_error(), "lt_cfg_new: unknown config type 7");
    ck_assert_int_eq(map->n, 0);
    ck_assert_int_eq(list->n, 0);
    lt_cfg_free(map);
    lt_cfg_free(list);
}
END_TEST

START_TEST(test_used_keys)
{
    lt_cfg *c = parse("a: 1\nb: {x: 1, y: 2}\nc: 3\n", "u.yaml");
    ck_assert(!c->used[0] && !c->used[1] && !c->used[2]);
    ck_assert_ptr_nonnull(lt_cfg_peek(c, "a"));
    ck_assert(!c->used[0]); /* peek does not mark */
    lt_cfg *b = lt_cfg_get(c, "b");
    ck_assert(c->used[1] && !c->used[0] && !c->used[2]);
    ck_assert_ptr_nonnull(lt_cfg_get(b, "y"));
    ck_assert(!b->used[0] && b->used[1]);
    ck_assert_ptr_null(lt_cfg_get(c, "zzz"));

    lt_cfg *copy = lt_cfg_clone(c); /* a clone keeps the marks */
    ck_assert(copy->used[1] && !copy->used[0]);
    ck_assert(lt_cfg_peek(copy, "b")->used[1]);
    lt_cfg_free(copy);

    ck_assert_int_eq(lt_cfg_set(c, "b", scalar("new", false)), 0);
    ck_assert(!c->used[1]); /* a replaced value has not been read yet */
    ck_assert_int_eq(lt_cfg_remove(c, "a"), 1);
    ck_assert(!c->used[0] && !c->used[1]); /* marks move with their keys */
    lt_cfg_get(c, "c");
    ck_assert(c->used[1]);
    lt_cfg_free(c);
}
END_TEST

/* ---- YAML 1.2 core schema ---- */

typedef struct typed_case {
    const char *text;
    bool is_null, is_bool, is_int, is_number;
} typed_case;

START_TEST(test_scalar_kinds)
{
    static const typed_case cases[] = {
        {"", true, false, false, false},       {"~", true, false, false, false},
        {"null", true, false, false, false},   {"Null", true, false, false, false},
        {"NULL", true, false, false, false},   {"nULL", false, false, false, false},
        {"true", false, true, false, false},   {"True", false, true, false, false},
        {"TRUE", false, true, false, false},   {"false", false, true, false, false},
        {"False", false, true, false, false},  {"FALSE", false, true, false, false},
        {"yes", false, false, false, false},   {"on", false, false, false, false},
        {"tRUE", false, false, false, false},  {"0", false, false, true, true},
        {"-12", false, false, true, true},     {"+7", false, false, true, true},
        {"007", false, false, true, true},     {"0x1F", false, false, true, true},
        {"0xff", false, false, true, true},    {"0o17", false, false, true, true},
        {"0X1F", false, false, false, false},  {"0x", false, false, false, false},
        {"0o8", false, false, false, false},   {"-0x1", false, false, false, false},
        {"0b101", false, false, false, false}, {"1_000", false, false, false, false},
        {"99999999999999999999", false, false, false, true}, /* an int, but not an int64 */
        {"1.5", false, false, false, true},    {"-1.5", false, false, false, true},
        {"1.", false, false, false, true},     {".5", false, false, false, true},
        {"1e-3", false, false, false, true},   {"1E+3", false, false, false, true},
        {"2.5e3", false, false, false, true},  {".inf", false, false, false, true},
        {"-.Inf", false, false, false, true},  {"+.INF", false, false, false, true},
        {".nan", false, false, false, true},   {".NaN", false, false, false, true},
        {"-.nan", false, false, false, false}, {"inf", false, false, false, false},
        {"nan", false, false, false, false},   {".", false, false, false, false},
        {"1e", false, false, false, false},    {"e3", false, false, false, false},
        {"1.2.3", false, false, false, false}, {"+", false, false, false, false},
        {" 1", false, false, false, false},    {"ten", false, false, false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const typed_case *t = &cases[i];
        lt_cfg *plain = scalar(t->text, false);
        ck_assert_msg(lt_cfg_is_null(plain) == t->is_null, "is_null('%s')", t->text);
        ck_assert_msg(lt_cfg_is_bool(plain) == t->is_bool, "is_bool('%s')", t->text);
        ck_assert_msg(lt_cfg_is_int(plain) == t->is_int, "is_int('%s')", t->text);
        ck_assert_msg(lt_cfg_is_number(plain) == t->is_number, "is_number('%s')", t->text);
        lt_cfg *quoted = scalar(t->text, true); /* quoted: always a string */
        ck_assert(!lt_cfg_is_null(quoted) && !lt_cfg_is_bool(quoted) && !lt_cfg_is_number(quoted));
        const char *s;
        ck_assert_int_eq(lt_cfg_as_str(quoted, "k", &s), 0);
        ck_assert_str_eq(s, t->text);
        lt_cfg_free(plain);
        lt_cfg_free(quoted);
    }
}
END_TEST

typedef struct int_case {
    const char *text;
    int64_t value;
} int_case;

START_TEST(test_int_values)
{
    static const int_case cases[] = {
        {"0", 0},
        {"-12", -12},
        {"+7", 7},
        {"007", 7}, /* decimal: YAML 1.2 has no bare-0 octal */
        {"0x1F", 31},
        {"0xff", 255},
        {"0o17", 15},
        {"9223372036854775807", INT64_MAX},
        {"-9223372036854775808", INT64_MIN},
        {"0x7FFFFFFFFFFFFFFF", INT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lt_cfg *c = scalar(cases[i].text, false);
        int64_t v = 0;
        ck_assert_msg(lt_cfg_as_int(c, "n", &v) == 0, "%s: %s", cases[i].text, lt_last_error());
        ck_assert_int_eq(v, cases[i].value);
        double d = 0;
        ck_assert_int_eq(lt_cfg_as_float(c, "n", &d), 0);
        ck_assert(d == (double)cases[i].value);
        lt_cfg_free(c);
    }
    static const char *const out_of_range[] = {"9223372036854775808", "-9223372036854775809", "0x8000000000000000",
                                               "99999999999999999999999999"};
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        lt_cfg *c = scalar(out_of_range[i], false);
        int64_t v = 0;
        ck_assert_int_eq(lt_cfg_as_int(c, "n", &v), -1);
        ck_assert_ptr_nonnull(strstr(lt_last_error(), "(out of range)"));
        double d = 0;
        ck_assert_int_eq(lt_cfg_as_float(c, "n", &d), 0); /* still a number */
        ck_assert(fabs(d) >= 9.2e18);
        lt_cfg_free(c);
    }
}
END_TEST

typedef struct float_case {
    const char *text;
    double value;
} float_case;

START_TEST(test_float_and_bool_values)
{
    static const float_case cases[] = {
        {"1.5", 1.5},         {"-1.5", -1.5},  {"1.", 1.0},       {".5", 0.5},      {"1e-3", 1e-3},
        {"1E+3", 1000.0},     {"2.5e3", 2500}, {"3", 3.0},        {"0x10", 16.0},   {"0o10", 8.0},
        {"+.inf", INFINITY}, {".Inf", INFINITY}, {"-.INF", -INFINITY}, {"1e999", INFINITY},
        {"0.1", 0.1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lt_cfg *c = scalar(cases[i].text, false);
        double d = 0;
        ck_assert_msg(lt_cfg_as_float(c, "x", &d) == 0, "%s: %s", cases[i].text, lt_last_error());
        ck_assert_msg(d == cases[i].value, "%s read as %g", cases[i].text, d);
        lt_cfg_free(c);
    }
    lt_cfg *nan = scalar(".NAN", false);
    double d = 0;
    ck_assert_int_eq(lt_cfg_as_float(nan, "x", &d), 0);
    ck_assert(isnan(d));
    lt_cfg_free(nan);

    static const char *const truths[] = {"true", "True", "TRUE"}, *const lies[] = {"false", "False", "FALSE"};
    for (int i = 0; i < 3; i++) {
        lt_cfg *t = scalar(truths[i], false), *f = scalar(lies[i], false);
        bool bt = false, bf = true;
        ck_assert_int_eq(lt_cfg_as_bool(t, "b", &bt), 0);
        ck_assert_int_eq(lt_cfg_as_bool(f, "b", &bf), 0);
        ck_assert(bt && !bf);
        lt_cfg_free(t);
        lt_cfg_free(f);
    }
    lt_cfg *n = scalar("12", false);
    const char *s = NULL;
    ck_assert_int_eq(lt_cfg_as_str(n, "name", &s), 0); /* numbers read as their spelling */
    ck_assert_str_eq(s, "12");
    lt_cfg_free(n);
}
END_TEST

/* ---- error messages of typed reads ---- */

static const char typed_yaml[] = "model:\n"
                                 "  n_classes: ten\n"
                                 "  lr: \"0.1\"\n"
                                 "  flag: yes\n"
                                 "  sub: {a: 1}\n"
                                 "  nothing:\n"
                                 "  big: 99999999999999999999\n"
                                 "  items: [1, 2]\n"
                                 "  ratio: 0.5\n"
                                 "  long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n";

START_TEST(test_type_errors)
{
    lt_cfg *root = parse(typed_yaml, "configs/x.yaml");
    lt_cfg *m = lt_cfg_get(root, "model");
    int64_t i;
    double d;
    bool b;
    const char *s;
    ck_assert_int_eq(lt_cfg_as_int(lt_cfg_get(m, "n_classes"), "model.n_classes", &i), -1);
    ck_assert_str_eq(lt_last_error(), "configs/x.yaml:2:14: model.n_classes: expected an integer, got 'ten'");
    ck_assert_int_eq(lt_cfg_as_int(lt_cfg_get(m, "n_classes"), NULL, &i), -1);
    ck_assert_str_eq(lt_last_error(), "configs/x.yaml:2:14: expected an integer, got 'ten'");
    ck_assert_int_eq(lt_cfg_as_float(lt_cfg_get(m, "lr"), "model.lr", &d), -1);
    ck_assert_str_eq(lt_last_error(),
                     "configs/x.yaml:3:7: model.lr: expected a number, got '0.1' (quoted, so a string)");
    ck_assert_int_eq(lt_cfg_as_bool(lt_cfg_get(m, "flag"), "model.flag", &b), -1);
    ck_assert_str_eq(lt_last_error(), "configs/x.yaml:4:9: model.flag: expected a boolean (true or false), got 'yes'");
    ck_assert_int_eq(lt_cfg_as_str(lt_cfg_get(m, "sub"), "model.sub", &s), -1);
    ck_assert_str_eq(lt_last_error(), "configs/x.yaml:5:8: model.sub: expected a string, got a map");
    ck_assert_int_eq(lt_cfg_as_int(lt_cfg_get(m, "items"), "model.items", &i), -1);
    ck_assert_str_eq(lt_last_error(), "configs/x.yaml:8:10: model.items: expected an integer, got a list");
    ck_assert_int_eq(lt_cfg_as_str(lt_cfg_get(m, "nothing"), "model.nothing", &s), -1);
    ck_assert_str_eq(lt_last_error(), "configs/x.yaml:6:11: model.nothing: expected a string, got null");
    ck_assert_int_eq(lt_cfg_as_int(lt_cfg_get(m, "big"), "model.big", &i), -1);
    ck_assert_str_eq(lt_last_error(), "configs/x.yaml:7:8: model.big: expected a 64-bit integer, "
                                      "got '99999999999999999999' (out of range)");
    ck_assert_int_eq(lt_cfg_as_int(lt_cfg_get(m, "ratio"), "model.ratio", &i), -1);
    ck_assert_str_eq(lt_last_error(), "configs/x.yaml:9:10: model.ratio: expected an integer, got '0.5'");
    ck_assert_int_eq(lt_cfg_as_bool(lt_cfg_get(m, "long"), "model.long", &b), -1);
    ck_assert_str_eq(lt_last_error(), "configs/x.yaml:10:9: model.long: expected a boolean (true or false), got "
                                      "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
    ck_assert_int_eq(lt_cfg_as_int(lt_cfg_get(m, "missing"), "model.missing", &i), -1);
    ck_assert_str_eq(lt_last_error(), "<config>: model.missing: expected an integer, got nothing");
    lt_cfg *coded = scalar("x", false); /* built in code: no location */
    ck_assert_int_eq(lt_cfg_as_float(coded, "lr", &d), -1);
    ck_assert_str_eq(lt_last_error(), "<config>: lr: expected a number, got 'x'");
    lt_cfg_free(coded);
    ck_assert_int_eq(lt_cfg_as_float(lt_cfg_get(m, "ratio"), "model.ratio", &d), 0);
    ck_assert(d == 0.5);
    lt_cfg_free(root);
}
END_TEST

START_TEST(test_where)
{
    lt_cfg *root = parse("a:\n  b: 1\n", "w.yaml");
    lt_cfg *b = at_path(root, "a", "b");
    ck_assert_str_eq(lt_cfg_where(root), "w.yaml:1:1");
    ck_assert_str_eq(lt_cfg_where(b), "w.yaml:2:6");
    /* two places in one message */
    char msg[128];
    snprintf(msg, sizeof msg, "%s %s", lt_cfg_where(root), lt_cfg_where(b));
    ck_assert_str_eq(msg, "w.yaml:1:1 w.yaml:2:6");
    ck_assert_str_eq(lt_cfg_where(NULL), "<config>");
    lt_cfg_free(root);
    lt_cfg *anon = parse("a: 1\n", NULL);
    ck_assert_ptr_null(anon->file);
    ck_assert_str_eq(lt_cfg_where(lt_cfg_peek(anon, "a")), "<config>:1:4");
    lt_cfg_free(anon);
}
END_TEST

/* ---- YAML reading ---- */

static const char model_yaml[] = "model:\n"
                                 "  name: m\n"
                                 "  nodes:\n"
                                 "    - name: a\n"
                                 "      params: {n: 3, 'q': \"x\"}\n"
                                 "    - name: b\n"
                                 "  empty:\n"
                                 "  text: |\n"
                                 "    hi\n"
                                 "    there\n"
                                 "  folded: >\n"
                                 "    one\n"
                                 "    two\n";

START_TEST(test_parse_and_marks)
{
    lt_cfg *root = parse(model_yaml, "m.yaml");
    ck_assert_int_eq(root->type, LT_CFG_MAP);
    ck_assert_str_eq(root->owned_file, "m.yaml");
    ck_assert_int_eq(root->line, 1);
    ck_assert_int_eq(root->column, 1);
    lt_cfg *model = lt_cfg_peek(root, "model");
    ck_assert_ptr_eq(model->file, root->owned_file);
    ck_assert_int_eq(model->line, 2);
    ck_assert_int_eq(model->column, 3);
    lt_cfg *name = lt_cfg_peek(model, "name");
    ck_assert_str_eq(name->text, "m");
    ck_assert(!name->quoted);
    ck_assert_int_eq(name->line, 2);
    ck_assert_int_eq(name->column, 9);
    lt_cfg *nodes = lt_cfg_peek(model, "nodes");
    ck_assert_int_eq(nodes->type, LT_CFG_LIST);
    ck_assert_int_eq(nodes->n, 2);
    ck_assert_int_eq(nodes->line, 4);
    ck_assert_int_eq(nodes->column, 5);
    lt_cfg *first = lt_cfg_at(nodes, 0);
    ck_assert_int_eq(first->line, 4);
    ck_assert_int_eq(first->column, 7);
    lt_cfg *params = lt_cfg_peek(first, "params");
    ck_assert_int_eq(params->line, 5);
    ck_assert_int_eq(params->column, 15);
    lt_cfg *n = lt_cfg_peek(params, "n");
    ck_assert_int_eq(n->line, 5);
    ck_assert_int_eq(n->column, 19);
    ck_assert(lt_cfg_is_int(n));
    lt_cfg *q = lt_cfg_peek(params, "q"); /* quoted key, quoted value */
    ck_assert(q->quoted);
    ck_assert_str_eq(q->text, "x");
    ck_assert_str_eq(lt_cfg_peek(lt_cfg_at(nodes, 1), "name")->text, "b");
    lt_cfg *empty = lt_cfg_peek(model, "empty");
    ck_assert_int_eq(empty->type, LT_CFG_NULL);
    ck_assert_int_eq(empty->line, 7);
    lt_cfg *text = lt_cfg_peek(model, "text");
    ck_assert_str_eq(text->text, "hi\nthere\n");
    ck_assert(text->quoted); /* block scalars are strings */
    ck_assert_str_eq(lt_cfg_peek(model, "folded")->text, "one two\n");
    lt_cfg_free(root);
}
END_TEST

START_TEST(test_parse_roots_and_tags)
{
    lt_cfg *c = parse("", "e.yaml");
    ck_assert_int_eq(c->type, LT_CFG_NULL);
    ck_assert_str_eq(lt_cfg_where(c), "e.yaml:1:1");
    lt_cfg_free(c);
    c = parse("# only a comment\n", NULL);
    ck_assert_int_eq(c->type, LT_CFG_NULL);
    lt_cfg_free(c);
    c = parse("--- 42\n...\n", NULL);
    ck_assert(lt_cfg_is_int(c));
    lt_cfg_free(c);
    c = parse("[]", NULL);
    ck_assert_int_eq(c->type, LT_CFG_LIST);
    ck_assert_int_eq(c->n, 0);
    lt_cfg_free(c);

    c = parse("a: !!str 10\nb: ! true\nc: !!int \"0x10\"\nd: !!float 3\ne: !!null ''\nf: !!bool 'True'\n"
              "g: !!map {x: 1}\nh: !!seq [1]\n",
              "t.yaml");
    ck_assert(lt_cfg_peek(c, "a")->quoted && !lt_cfg_is_int(lt_cfg_peek(c, "a")));
    ck_assert(lt_cfg_peek(c, "b")->quoted && !lt_cfg_is_bool(lt_cfg_peek(c, "b")));
    ck_assert(lt_cfg_is_int(lt_cfg_peek(c, "c")));
    ck_assert(lt_cfg_is_number(lt_cfg_peek(c, "d")));
    ck_assert(lt_cfg_is_null(lt_cfg_peek(c, "e")));
    ck_assert(lt_cfg_is_bool(lt_cfg_peek(c, "f")));
    ck_assert_int_eq(lt_cfg_peek(c, "g")->type, LT_CFG_MAP);
    ck_assert_int_eq(lt_cfg_peek(c, "h")->type, LT_CFG_LIST);
    lt_cfg_free(c);

    c = parse("a: 'it''s'\nb: \"tab\\there\\u00e9\"\nc: ümlaut 日本\n", NULL);
    ck_assert_str_eq(lt_cfg_peek(c, "a")->text, "it's");
    ck_assert_str_eq(lt_cfg_peek(c, "b")->text, "tab\there\xc3\xa9");
    ck_assert_str_eq(lt_cfg_peek(c, "c")->text, "\xc3\xbcmlaut \xe6\x97\xa5\xe6\x9c\xac");
    lt_cfg_free(c);

    c = parse("a: 1\r\nb:\r\n  - x\r\n", "crlf.yaml"); /* Windows line ends */
    ck_assert_str_eq(lt_cfg_at(lt_cfg_peek(c, "b"), 0)->text, "x");
    ck_assert_str_eq(lt_cfg_where(lt_cfg_at(lt_cfg_peek(c, "b"), 0)), "crlf.yaml:3:5");
    lt_cfg_free(c);

    /* text need not be NUL-terminated: only len bytes are read */
    const char buf[] = "a: 1\nb: 2";
    c = lt_cfg_parse_yaml(buf, 4, "n.yaml");
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->n, 1);
    lt_cfg_free(c);
}
END_TEST

START_TEST(test_yaml_errors)
{
    parse_fails("a: b: c\n", "bad.yaml:1:5: mapping values are not allowed in this context");
    parse_fails("a:\n  - x\n - y\n",
                "bad.yaml:3:2: did not find expected key (while parsing a block mapping at line 1, column 1)");
    parse_fails("a: [1, 2\n",
                "bad.yaml:2:1: did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 4)");
    parse_fails("a: 'open\n",
                "bad.yaml:2:1: found unexpected end of stream (while scanning a quoted scalar at line 1, column 4)");
    parse_fails("a:\n\tb: 1\n",
                "bad.yaml:2:1: found character that cannot start any token (while scanning for the next token at "
                "line 2, column 1)");
    parse_fails("lr: 1\nepochs: 2\nlr: 3\n", "bad.yaml:3:1: duplicate key 'lr' (first at line 1, again at line 3)");
    parse_fails("m:\n  x: 1\n  'x': 2\n", "bad.yaml:3:3: duplicate key 'x' (first at line 2, again at line 3)");
    parse_fails("{a: 1, a: 2}", "bad.yaml:1:8: duplicate key 'a' (first at line 1, again at line 1)");
    parse_fails("a: 1\n---\nb: 2\n", "bad.yaml:2:1: expected one YAML document, found another");
    parse_fails("a: *x\n", "bad.yaml:1:4: undefined alias *x");
    parse_fails("a: &x [1, *x]\n", "bad.yaml:1:11: alias *x refers to a node that contains it");
    parse_fails("? [1]\n: 2\n", "bad.yaml:1:3: map keys must be scalars, got a list");
    parse_fails("? {a: 1}\n: 2\n", "bad.yaml:1:3: map keys must be scalars, got a map");
    parse_fails("a: &l [1]\n*l : 2\n", "bad.yaml:2:1: map keys must be scalars, but *l is a list");
    parse_fails("&k a: 1\n", "bad.yaml:1:1: anchors on map keys are not supported (&k)");
    parse_fails("a: \"x\\0y\"\n", "bad.yaml:1:4: NUL character in a scalar");
    parse_fails("a: !!int ten\n", "bad.yaml:1:4: 'ten' is not a valid !!int");
    parse_fails("a: !!float x\n", "bad.yaml:1:4: 'x' is not a valid !!float");
    parse_fails("a: !!bool yes\n", "bad.yaml:1:4: 'yes' is not a valid !!bool");
    parse_fails("a: !foo 3\n", "bad.yaml:1:4: unsupported tag '!foo'");
    parse_fails("a: !!seq {}\n", "bad.yaml:1:4: tag '!!seq' does not fit a map");
    parse_fails("a: !!map x\n", "bad.yaml:1:4: tag '!!map' does not fit a scalar");
    parse_fails("a: !!binary eA==\n", "bad.yaml:1:4: unsupported tag '!!binary'");
    parse_fails("a: 1\nb: \xff\n", "bad.yaml:2:4: invalid leading UTF-8 octet (byte 0xFF)");

    char deep[600] = {0};
    for (int i = 0; i < 300; i++) deep[i] = '[';
    parse_fails(deep, "bad.yaml:1:257: nesting deeper than 256 levels");

    lt_cfg *c = lt_cfg_parse_yaml("a: [", 4, NULL);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "<config>:"));
    ck_assert_ptr_null(lt_cfg_parse_yaml(NULL, 3, "x.yaml"));
    ck_assert_str_eq(lt_last_error(), "lt_cfg_parse_yaml: text is NULL");
}
END_TEST

START_TEST(test_anchors)
{
    lt_cfg *root = parse("defaults: &d\n"
                         "  lr: 0.1\n"
                         "  sizes: [1, 2]\n"
                         "name: &n resnet\n"
                         "a: *d\n"
                         "b:\n"
                         "  opt: *d\n"
                         "  who: *n\n"
                         "list: [*n, *d]\n"
                         "name2: &n other\n"
                         "c: *n\n",
                         "an.yaml");
    lt_cfg *d = lt_cfg_peek(root, "defaults");
    lt_cfg *a = lt_cfg_peek(root, "a");
    ck_assert_ptr_ne(a, d); /* a deep copy, not a shared node */
    ck_assert(same_tree(a, d));
    ck_assert(same_tree(at_path(root, "b", "opt"), d));
    ck_assert_str_eq(at_path(root, "b", "who")->text, "resnet");
    lt_cfg *list = lt_cfg_peek(root, "list");
    ck_assert_str_eq(lt_cfg_at(list, 0)->text, "resnet");
    ck_assert(same_tree(lt_cfg_at(list, 1), d));
    ck_assert_str_eq(lt_cfg_peek(root, "c")->text, "other"); /* the latest definition wins */
    /* copies keep the marks of the text they came from */
    lt_cfg *lr_copy = at_path(a, "lr", NULL);
    ck_assert_int_eq(lr_copy->line, 2);
    ck_assert_ptr_eq(lr_copy->file, root->owned_file);
    /* copies are independent */
    ck_assert_int_eq(lt_cfg_set(a, "lr", scalar("0.5", false)), 0);
    ck_assert_str_eq(at_path(root, "defaults", "lr")->text, "0.1");
    ck_assert_int_eq(lt_cfg_append(lt_cfg_peek(d, "sizes"), scalar("3", false)), 0);
    ck_assert_int_eq(lt_cfg_peek(a, "sizes")->n, 2);
    lt_cfg_get(d, "lr");
    ck_assert(!a->used[0]);
    lt_cfg_free(root);

    /* alias as a key */
    root = parse("k: &k key\n*k : 1\n", NULL);
    ck_assert_int_eq(lt_cfg_as_int(lt_cfg_peek(root, "key"), "key", &(int64_t){0}), 0);
    lt_cfg_free(root);

    /* "billion laughs": aliases that expand exponentially are refused */
    char bomb[1024];
    int len = snprintf(bomb, sizeof bomb, "a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (char lvl = 'b'; lvl <= 'h'; lvl++) { /* 10^7 copies of x by level h */
        len += snprintf(bomb + len, sizeof bomb - (size_t)len, "%c: &%c [*%c", lvl, lvl, lvl - 1);
        for (int k = 1; k < 10; k++) len += snprintf(bomb + len, sizeof bomb - (size_t)len, ", *%c", lvl - 1);
        len += snprintf(bomb + len, sizeof bomb - (size_t)len, "]\n");
    }
    lt_cfg *c = lt_cfg_parse_yaml(bomb, (size_t)len, "bomb.yaml");
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "aliases expand to more than 1048576 nodes"));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "bomb.yaml:"));
}
END_TEST

START_TEST(test_load)
{
    char path[] = "/tmp/ltrain_cfg_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    /* bigger than the first read buffer */
    fputs("epochs: 3\nbig:\n", f);
    for (int i = 0; i < 3000; i++) fprintf(f, "  - item_%d\n", i);
    fclose(f);
    lt_cfg *c = lt_cfg_load_yaml(path);
    ck_assert_msg(c != NULL, "%s", lt_last_error());
    ck_assert_str_eq(c->owned_file, path);
    ck_assert_int_eq(lt_cfg_peek(c, "big")->n, 3000);
    char want[64];
    snprintf(want, sizeof want, "%s:1:9", path);
    ck_assert_str_eq(lt_cfg_where(lt_cfg_peek(c, "epochs")), want);
    lt_cfg_free(c);

    f = fopen(path, "w");
    fputs("a: [\n", f);
    fclose(f);
    ck_assert_ptr_null(lt_cfg_load_yaml(path));
    ck_assert_int_eq(strncmp(lt_last_error(), path, strlen(path)), 0);
    unlink(path);

    char msg[256];
    ck_assert_ptr_null(lt_cfg_load_yaml(path)); /* now missing */
    snprintf(msg, sizeof msg, "cannot open config '%s': %s", path, strerror(ENOENT));
    ck_assert_str_eq(lt_last_error(), msg);
    ck_assert_ptr_null(lt_cfg_load_yaml("/tmp"));
    snprintf(msg, sizeof msg, "cannot read config '/tmp': %s", strerror(EISDIR));
    ck_assert_str_eq(lt_last_error(), msg);
    ck_assert_ptr_null(lt_cfg_load_yaml(NULL));
    ck_assert_str_eq(lt_last_error(), "lt_cfg_load_yaml: path is NULL");
}
END_TEST

/* ---- clone and file names ---- */

START_TEST(test_clone)
{
    lt_cfg *a = parse("x: 1\nsub:\n  y: [1, {z: 2}]\n", "a.yaml");
    lt_cfg *b = parse("w: 5\n", "b.yaml");
    ck_assert_int_eq(lt_cfg_set(a, "from_b", b), 0); /* b's root keeps its file name */
    ck_assert_int_eq(lt_cfg_set(a, "coded", scalar("c", true)), 0);

    lt_cfg *whole = lt_cfg_clone(a);
    lt_cfg *part = lt_cfg_clone(lt_cfg_peek(a, "sub"));
    lt_cfg_free(a); /* the clones own copies of every file name (ASan) */
    ck_assert(same_tree(lt_cfg_peek(whole, "sub"), part));
    ck_assert_str_eq(lt_cfg_where(at_path(whole, "from_b", "w")), "b.yaml:1:4");
    ck_assert_str_eq(lt_cfg_where(lt_cfg_peek(whole, "x")), "a.yaml:1:4");
    ck_assert_str_eq(lt_cfg_where(lt_cfg_peek(whole, "coded")), "<config>");
    ck_assert(lt_cfg_peek(whole, "coded")->quoted);
    ck_assert_str_eq(lt_cfg_where(lt_cfg_at(lt_cfg_peek(part, "y"), 1)), "a.yaml:3:10");
    /* names stay valid when the subtree that first used them is removed */
    ck_assert_int_eq(lt_cfg_remove(whole, "x"), 1);
    ck_assert_int_eq(lt_cfg_remove(whole, "sub"), 1);
    ck_assert_str_eq(lt_cfg_where(whole), "a.yaml:1:1");
    lt_cfg *again = lt_cfg_clone(whole); /* clone of a clone */
    lt_cfg_free(whole);
    ck_assert_str_eq(lt_cfg_where(at_path(again, "from_b", "w")), "b.yaml:1:4");
    lt_cfg_free(again);
    lt_cfg_free(part);

    lt_cfg *coded = lt_cfg_new(LT_CFG_LIST);
    lt_cfg *copy = lt_cfg_clone(coded);
    ck_assert_ptr_nonnull(copy);
    ck_assert_ptr_null(copy->owned_file);
    lt_cfg_free(copy);
    lt_cfg_free(coded);
    ck_assert_ptr_null(lt_cfg_clone(NULL));
}
END_TEST

/* ---- writing ---- */

START_TEST(test_to_yaml_format)
{
    lt_cfg *c = parse(model_yaml, "m.yaml");
    char *yaml = round_trip(c);
    ck_assert_str_eq(yaml, "model:\n"
                           "  name: m\n"
                           "  nodes:\n"
                           "    - name: a\n"
                           "      params:\n"
                           "        n: 3\n"
                           "        q: x\n"
                           "    - name: b\n"
                           "  empty: null\n"
                           "  text: \"hi\\nthere\\n\"\n"
                           "  folded: \"one two\\n\"\n");
    free(yaml);
    lt_cfg_free(c);

    c = parse("a: {}\nb: []\nc: [[1, 2], [], {k: v}, [[x]]]\nd: '10'\ne: 'yes'\nf: \"\"\n'1': 0x1F\n", NULL);
    yaml = round_trip(c);
    ck_assert_str_eq(yaml, "a: {}\n"
                           "b: []\n"
                           "c:\n"
                           "  - - 1\n"
                           "    - 2\n"
                           "  - []\n"
                           "  - k: v\n"
                           "  - - - x\n"
                           "d: '10'\n"
                           "e: 'yes'\n"
                           "f: ''\n"
                           "'1': 0x1F\n");
    free(yaml);
    lt_cfg_free(c);

    static const char *const roots[][2] = {{"", "null\n"}, {"7", "7\n"}, {"{}", "{}\n"}, {"'a: b'", "'a: b'\n"}};
    for (int i = 0; i < 4; i++) {
        c = parse(roots[i][0], NULL);
        yaml = round_trip(c);
        ck_assert_str_eq(yaml, roots[i][1]);
        free(yaml);
        lt_cfg_free(c);
    }
    ck_assert_ptr_null(lt_cfg_to_yaml(NULL));
}
END_TEST

/* Strings that are easy to get wrong when writing YAML. */
static const char *const tricky[] = {
    "", " ", "a b", "a: b", "a:b", "a #b", "a#b", "#x", "- x", "-", "-x", "?", "? x", ":", "key:", "[1]", "{a}",
    "a,b", "a]", "'", "\"", "''", "\\", "yes", "No", "on", "OFF", "y", "n", "true", "False", "null", "~", "Null",
    "10", "-5", "+5", "0x1F", "0o17", "1.5", ".inf", "-.Inf", ".nan", "1e3", "1.", ".5", "1_000", "0b101", "3d",
    "1.2.3", "...", "---", "--- x", "a\nb", "a\n", "\n", "\ttab", "a\tb", "trail ", " lead", "x  y", "a\r\nb",
    "\xc3\xbcmlaut", "\xe6\x97\xa5\xe6\x9c\xac", "emoji \xf0\x9f\x98\x80", "\x7f", "\x01", "\x1b[0m", "\xc2\x85",
    "\xc2\xa0nbsp", "\xe2\x80\xa8", "\xef\xbb\xbf", "\xef\xbf\xbe", "%YAML", "@at", "`bt", "!bang", "&anch",
    "*ref", "|", ">", "http://x.y/z?a=1#frag", "C:\\path", "a\\nb", "it's", "say \"hi\"", "=", "<<", "%", "a%",
};

START_TEST(test_round_trip_strings)
{
    for (size_t i = 0; i < sizeof tricky / sizeof tricky[0]; i++) {
        for (int q = 0; q < 2; q++) {
            /* as a value, a list item, a key and the whole document */
            lt_cfg *map = lt_cfg_new(LT_CFG_MAP), *list = lt_cfg_new(LT_CFG_LIST);
            ck_assert_int_eq(lt_cfg_set(map, "v", scalar(tricky[i], q)), 0);
            ck_assert_int_eq(lt_cfg_set(map, tricky[i], scalar("1", false)), 0);
            ck_assert_int_eq(lt_cfg_append(list, scalar(tricky[i], q)), 0);
            ck_assert_int_eq(lt_cfg_set(map, "list", list), 0);
            free(round_trip(map));
            lt_cfg *root = scalar(tricky[i], q);
            free(round_trip(root));
            lt_cfg_free(root);
            lt_cfg_free(map);
        }
    }
}
END_TEST

START_TEST(test_round_trip_long_keys)
{
    char key[700];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    key[10] = '\x01'; /* escapes lengthen the written key */
    lt_cfg *map = lt_cfg_new(LT_CFG_MAP);
    lt_cfg *inner = lt_cfg_new(LT_CFG_MAP);
    ck_assert_int_eq(lt_cfg_set(inner, key, scalar("v", false)), 0);
    ck_assert_int_eq(lt_cfg_set(map, key, inner), 0);
    lt_cfg *list = lt_cfg_new(LT_CFG_LIST);
    ck_assert_int_eq(lt_cfg_append(list, lt_cfg_clone(map)), 0);
    ck_assert_int_eq(lt_cfg_set(map, key + 300, list), 0);
    free(round_trip(map));
    lt_cfg_free(map);
}
END_TEST

START_TEST(test_to_yaml_rejects_bad_utf8)
{
    lt_cfg *root = parse("a: 1\n", "u8.yaml");
    ck_assert_int_eq(lt_cfg_set(root, "b", scalar("x\xff", true)), 0);
    ck_assert_ptr_null(lt_cfg_to_yaml(root));
    ck_assert_str_eq(lt_last_error(), "<config>: lt_cfg_to_yaml: text is not valid UTF-8");
    lt_cfg_free(root);
    root = parse("a: 1\n", "u8.yaml");
    ck_assert_int_eq(lt_cfg_set(root, "\xc0\x80", scalar("x", true)), 0); /* overlong NUL */
    ck_assert_ptr_null(lt_cfg_to_yaml(root));
    ck_assert_str_eq(lt_last_error(), "u8.yaml:1:1: lt_cfg_to_yaml: text is not valid UTF-8");
    lt_cfg_free(root);
}
END_TEST

/* A small deterministic generator of random trees. */
static uint64_t rng_state = 88172645463325252ull;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static void random_text(char *buf, size_t size)
{
    static const char *const pieces[] = {"a", "Z", "0", "9", " ", ":", "#", "-", "'", "\"", "\\", "\n", "\t", ",",
                                         "[", "}", ".", "e", "x", "~", "\xc3\xa9", "\xe2\x80\xa8", "\x02", "&", "*"};
    size_t len = 0;
    unsigned n = rnd(8);
    buf[0] = '\0';
    for (unsigned i = 0; i < n; i++) {
        const char *p = pieces[rnd(sizeof pieces / sizeof pieces[0])];
        if (len + strlen(p) + 1 >= size) break;
        strcpy(buf + len, p);
        len += strlen(p);
    }
}

static lt_cfg *random_tree(int depth)
{
    char text[64];
    unsigned pick = depth > 3 ? rnd(3) : rnd(6);
    if (pick == 0) return lt_cfg_new(LT_CFG_NULL);
    if (pick < 3) {
        random_text(text, sizeof text);
        if (rnd(4) == 0) return scalar(tricky[rnd(sizeof tricky / sizeof tricky[0])], rnd(2));
        return scalar(text, rnd(2));
    }
    lt_cfg *c = lt_cfg_new(pick == 3 ? LT_CFG_LIST : LT_CFG_MAP);
    unsigned n = rnd(5);
    for (unsigned i = 0; i < n; i++) {
        random_text(text, sizeof text);
        int rc = c->type == LT_CFG_LIST ? lt_cfg_append(c, random_tree(depth + 1))
                                        : lt_cfg_set(c, text, random_tree(depth + 1));
        ck_assert_int_eq(rc, 0);
    }
    return c;
}

START_TEST(test_round_trip_random_trees)
{
    for (int i = 0; i < 400; i++) {
        lt_cfg *tree = random_tree(0);
        char *yaml = round_trip(tree);
        /* writing the re-read tree gives the same text */
        lt_cfg *back = lt_cfg_parse_yaml(yaml, strlen(yaml), NULL);
        char *again = lt_cfg_to_yaml(back);
        ck_assert_str_eq(again, yaml);
        free(again);
        lt_cfg_free(back);
        free(yaml);
        lt_cfg *copy = lt_cfg_clone(tree);
        ck_assert(same_tree(copy, tree));
        lt_cfg_free(copy);
        lt_cfg_free(tree);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cfg");
    TCase *tc = tcase_create("cfg");
    tcase_add_test(tc, test_build_and_access);
    tcase_add_test(tc, test_build_errors);
    tcase_add_test(tc, test_used_keys);
    tcase_add_test(tc, test_scalar_kinds);
    tcase_add_test(tc, test_int_values);
    tcase_add_test(tc, test_float_and_bool_values);
    tcase_add_test(tc, test_type_errors);
    tcase_add_test(tc, test_where);
    tcase_add_test(tc, test_parse_and_marks);
    tcase_add_test(tc, test_parse_roots_and_tags);
    tcase_add_test(tc, test_yaml_errors);
    tcase_add_test(tc, test_anchors);
    tcase_add_test(tc, test_load);
    tcase_add_test(tc, test_clone);
    tcase_add_test(tc, test_to_yaml_format);
    tcase_add_test(tc, test_round_trip_strings);
    tcase_add_test(tc, test_round_trip_long_keys);
    tcase_add_test(tc, test_to_yaml_rejects_bad_utf8);
    tcase_add_test(tc, test_round_trip_random_trees);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
