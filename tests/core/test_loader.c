/* Plugin loader: every way a plugin can be broken is skipped with one
 * message naming the file, the symbol or descriptor and the reason, while
 * the others load; search-path precedence; shadowing. The test plugins are
 * built by tests/plugins/loader/meson.build. */
#include "fixture.h"
#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader.h"

#define LOADER_DIR LT_TEST_PLUGINS_DIR "/loader"
#define GOOD_DIR LOADER_DIR "/good"
#define BAD_DIR LOADER_DIR "/bad"
#define SHADOW_DIR LOADER_DIR "/shadow"

/* A loaded plugin set and its report. */
typedef struct fixture {
    lt_loader *loader;
    lt_registry *registry;
    lt_load_report rep;
} fixture;

/* Only what the test names: no environment, user or installed plugins. */
static lt_loader_options isolated(void)
{
    return (lt_loader_options){.skip_env = true, .skip_user = true, .skip_installed = true};
}

static fixture load(const lt_loader_options *o)
{
    fixture f = {lt_loader_new(), lt_registry_new(), {0}};
    ck_assert_ptr_nonnull(f.loader);
    ck_assert_ptr_nonnull(f.registry);
    ck_assert_int_eq(lt_loader_load_all(f.loader, f.registry, o, &f.rep), 0);
    return f;
}

static fixture load_paths(const char *const *paths, int n)
{
    lt_loader_options o = isolated();
    o.flag_paths = paths;
    o.n_flag_paths = n;
    return load(&o);
}

static void fixture_free(fixture *f)
{
    lt_registry_free(f->registry);
    lt_loader_free(f->loader);
    lt_load_report_free(&f->rep);
}

static const lt_registry_entry *find(const fixture *f, lt_desc_kind kind, const char *name)
{
    return lt_registry_find(f->registry, kind, name);
}

/* The file an entry came from ends with suffix. */
static void assert_from(const fixture *f, lt_desc_kind kind, const char *name, const char *suffix)
{
    const lt_registry_entry *e = find(f, kind, name);
    ck_assert_msg(e, "%s is not registered", name);
    size_t n = strlen(e->file), m = strlen(suffix);
    ck_assert_msg(n >= m && strcmp(e->file + n - m, suffix) == 0, "%s comes from %s, expected ...%s", name, e->file,
                  suffix);
}

/* The one message mentioning `file`; fails if none or several do. */
static const char *message_about(const fixture *f, const char *file)
{
    const char *found = NULL;
    for (int i = 0; i < f->rep.n_messages; i++) {
        if (!strstr(f->rep.messages[i], file)) continue;
        ck_assert_msg(!found, "two messages about %s:\n  %s\n  %s", file, found, f->rep.messages[i]);
        found = f->rep.messages[i];
    }
    ck_assert_msg(found, "no message about %s", file);
    return found;
}

static void dump_messages(const fixture *f)
{
    for (int i = 0; i < f->rep.n_messages; i++) fprintf(stderr, "  message: %s\n", f->rep.messages[i]);
}

/* ------------------------------------------------------------------ */

START_TEST(test_good_plugin)
{
    const char *paths[] = {GOOD_DIR};
    fixture f = load_paths(paths, 1);
    dump_messages(&f);
    ck_assert_int_eq(f.rep.n_messages, 0); /* README.txt beside it is passed over */
    ck_assert_int_eq(f.rep.n_loaded, 1);
    ck_assert_int_eq(f.rep.n_failed, 0);
    ck_assert_int_eq(f.rep.n_shadowed, 0);
    ck_assert_uint_eq(lt_registry_count(f.registry), 7);

    static const struct {
        lt_desc_kind kind;
        const char *name;
    } want[] = {
        {LT_DESC_NODE, "LoaderTestNet"},       {LT_DESC_NODE, "LoaderTestHead"},
        {LT_DESC_TASK, "distance"},            {LT_DESC_TASK, "distance_spelt_out"},
        {LT_DESC_LOSS, "LoaderTestLoss"},      {LT_DESC_METRIC, "LoaderTestMetric"},
        {LT_DESC_VISUALIZER, "LoaderTestVisualizer"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const lt_registry_entry *e = lt_registry_at(f.registry, i);
        ck_assert_int_eq(e->desc->kind, want[i].kind);
        ck_assert_str_eq(e->desc->name, want[i].name);
        ck_assert_str_eq(e->plugin, "loader_good");
        assert_from(&f, want[i].kind, want[i].name, "/good/loader_good.so");
    }
    const lt_node_desc *net = (const lt_node_desc *)find(&f, LT_DESC_NODE, "LoaderTestNet")->desc;
    ck_assert_str_eq(net->header.summary, "identity backbone of the loader tests");
    ck_assert_str_eq(net->variants[0], "s");
    ck_assert_str_eq(net->variants[1], "m");
    ck_assert_ptr_null(net->variants[2]);
    ck_assert_ptr_nonnull(net->init);
    const lt_metric_desc *metric = (const lt_metric_desc *)find(&f, LT_DESC_METRIC, "LoaderTestMetric")->desc;
    ck_assert_str_eq(metric->states[0].name, "total");
    ck_assert_str_eq(metric->node, "LoaderTestHead");
    fixture_free(&f);
}
END_TEST

/* The registry holds the loader's zero-padded copies, equal to what the
 * plugin declared, not the plugin's own descriptors. */
START_TEST(test_descriptors_are_copies)
{
    const char *paths[] = {GOOD_DIR "/loader_good.so"};
    fixture f = load_paths(paths, 1);
    void *h = dlopen(GOOD_DIR "/loader_good.so", RTLD_NOW | RTLD_NOLOAD);
    ck_assert_ptr_nonnull(h);
    lt_plugin_entry_fn entry;
    void *sym = dlsym(h, LT_PLUGIN_ENTRY_SYMBOL);
    memcpy(&entry, &sym, sizeof entry);
    const lt_plugin_info *info = entry();
    for (int i = 0; info->descriptors[i]; i++) {
        const lt_desc_header *mine = info->descriptors[i];
        const lt_desc_header *kept = find(&f, mine->kind, mine->name)->desc;
        ck_assert_ptr_ne(kept, mine);
        ck_assert_int_eq(memcmp(kept, mine, mine->size), 0);
    }
    dlclose(h);
    fixture_free(&f);
}
END_TEST

/* One row per broken plugin in tests/plugins/loader/bad: what its single
 * message must say besides the file name. */
static const struct {
    const char *file;
    const char *says[2];
} broken[] = {
    {"no_entry.so", {"no symbol 'lt_plugin_entry'", NULL}},
    {"plugin_abi.so", {"lt_plugin_entry(): plugin ABI version 99, but this ltrain expects 1", NULL}},
    {"entry_null.so", {"lt_plugin_entry(): returned NULL", NULL}},
    {"info_name.so", {"lt_plugin_entry(): plugin name '(null)' is missing", NULL}},
    {"no_descriptors.so", {"lt_plugin_entry(): the plugin declares no descriptors", NULL}},
    {"desc_abi.so", {"lt_plugin_entry(): descriptors[1]: descriptor ABI version 2, but this ltrain expects 1", NULL}},
    {"small_size.so", {"descriptors[1] (node 'SmallNet'): size 32 is smaller than the node descriptor layout", NULL}},
    {"bad_kind.so", {"lt_plugin_entry(): descriptors[1]: kind 42 is not an lt_desc_kind", NULL}},
    {"null_forward.so", {"lt_plugin_entry(): descriptors[1] (node 'NullForwardNet'): forward is NULL", NULL}},
    {"null_name.so", {"lt_plugin_entry(): descriptors[1]: name is NULL", NULL}},
    {"dup_name.so", {"descriptors[1] and descriptors[2] are both loss 'DupLoss' (duplicate name)", NULL}},
    {"undefined_symbol.so", {"dlopen failed:", "undefined symbol: lt_loader_test_missing_symbol"}},
    {"node_no_init.so", {"descriptors[1] (node 'StatefulNet'): init is NULL but state_size is 64", NULL}},
    {"loss_no_forward.so", {"descriptors[1] (loss 'IdleLoss'): forward and run are both NULL", NULL}},
    {"metric_no_compute.so", {"descriptors[1] (metric 'NoComputeMetric'): compute is NULL", NULL}},
    {"metric_no_update.so", {"descriptors[1] (metric 'NoUpdateMetric'): update and run_update are both NULL", NULL}},
    {"vis_no_forward.so", {"descriptors[1] (visualizer 'BlindVisualizer'): forward and run are both NULL", NULL}},
    {"task_no_labels.so", {"descriptors[1] (task 'unlabeled'): required_labels is NULL", NULL}},
    {"dup_arg.so", {"descriptors[1] (loss 'TwiceLoss'): args lists 'predictions' twice", NULL}},
    {"arg_kind.so", {"descriptors[1] (loss 'KindlessLoss'): args[0] ('predictions') has kind 0", NULL}},
    {"no_args.so", {"descriptors[1] (loss 'UndeclaredLoss'): forward is set but args is NULL", NULL}},
    {"empty_tasks.so", {"descriptors[1] (loss 'TasklessLoss'): supported_tasks is an empty list", NULL}},
    {"not_elf.so", {"dlopen failed:", NULL}},
};
enum { N_BROKEN = sizeof broken / sizeof broken[0] };

START_TEST(test_each_broken_plugin_is_skipped_alone)
{
    const char *paths[] = {BAD_DIR, GOOD_DIR};
    fixture f = load_paths(paths, 2);
    dump_messages(&f);
    ck_assert_int_eq(f.rep.n_failed, N_BROKEN);
    ck_assert_int_eq(f.rep.n_messages, N_BROKEN);
    ck_assert_int_eq(f.rep.n_loaded, 2); /* ok_neighbour.so and good/ */
    ck_assert_int_eq(f.rep.n_shadowed, 0);
    for (int i = 0; i < N_BROKEN; i++) {
        char file[256], valid[64];
        snprintf(file, sizeof file, BAD_DIR "/%s: ", broken[i].file);
        const char *msg = message_about(&f, file);
        ck_assert_msg(strstr(msg, file) == msg, "message does not start with the file: %s", msg);
        for (int k = 0; k < 2 && broken[i].says[k]; k++)
            ck_assert_msg(strstr(msg, broken[i].says[k]), "message '%s' lacks '%s'", msg, broken[i].says[k]);
        ck_assert_msg(strstr(msg, "; plugin skipped"), "%s", msg);
        /* All or nothing: its valid first descriptor is not registered. */
        snprintf(valid, sizeof valid, "Valid_%.*s", (int)(strlen(broken[i].file) - 3), broken[i].file);
        ck_assert_msg(!find(&f, LT_DESC_NODE, valid), "%s of a skipped plugin is registered", valid);
    }
    assert_from(&f, LT_DESC_NODE, "Valid_ok_neighbour", "/bad/ok_neighbour.so");
    assert_from(&f, LT_DESC_LOSS, "LoaderTestLoss", "/good/loader_good.so");
    ck_assert_uint_eq(lt_registry_count(f.registry), 8);
    fixture_free(&f);
}
END_TEST

START_TEST(test_load_file_errors)
{
    lt_loader *l = lt_loader_new();
    lt_registry *r = lt_registry_new();
    lt_load_report rep = {0};
    ck_assert_int_eq(lt_loader_load_file(l, r, LOADER_DIR "/missing.so", &rep), -1);
    ck_assert_str_eq(lt_last_error(), LOADER_DIR "/missing.so: cannot open: No such file or directory; plugin skipped");
    ck_assert_int_eq(rep.n_failed, 1);
    /* Without a report the reason is still the thread's error. */
    ck_assert_int_eq(lt_loader_load_file(l, r, BAD_DIR "/null_forward.so", NULL), -1);
    ck_assert_msg(strstr(lt_last_error(), BAD_DIR "/null_forward.so: lt_plugin_entry(): descriptors[1] (node "
                                                  "'NullForwardNet'): forward is NULL"),
                  "%s", lt_last_error());
    ck_assert_int_eq(lt_loader_load_file(l, r, GOOD_DIR "/loader_good.so", &rep), 0);
    ck_assert_int_eq(rep.n_loaded, 1);
    ck_assert_int_eq(rep.n_messages, 1);
    ck_assert_uint_eq(lt_registry_count(r), 7);
    lt_registry_free(r);
    lt_loader_free(l);
    lt_load_report_free(&rep);
    lt_load_report_free(NULL);
}
END_TEST

/* good/ first: shadow/'s duplicate name and same-named file lose. */
START_TEST(test_shadowing_first_wins)
{
    const char *paths[] = {GOOD_DIR, SHADOW_DIR};
    fixture f = load_paths(paths, 2);
    dump_messages(&f);
    ck_assert_int_eq(f.rep.n_loaded, 2);
    ck_assert_int_eq(f.rep.n_failed, 0);
    ck_assert_int_eq(f.rep.n_shadowed, 2);
    ck_assert_int_eq(f.rep.n_messages, 2);

    const char *twin = message_about(&f, SHADOW_DIR "/loader_good.so");
    ck_assert_str_eq(twin, SHADOW_DIR "/loader_good.so: shadowed by " GOOD_DIR
                           "/loader_good.so (same file name, earlier on the search path); not loaded");
    ck_assert_ptr_null(find(&f, LT_DESC_LOSS, "BasenameTwinLoss"));

    const char *dup = message_about(&f, SHADOW_DIR "/loader_shadow.so");
    ck_assert_str_eq(dup, SHADOW_DIR "/loader_shadow.so: node 'LoaderTestNet' is shadowed by the one of plugin "
                          "'loader_good' (" GOOD_DIR "/loader_good.so), which comes first; using that one");
    assert_from(&f, LT_DESC_NODE, "LoaderTestNet", "/good/loader_good.so");
    /* The rest of the shadowed plugin still loads. */
    assert_from(&f, LT_DESC_LOSS, "ShadowOnlyLoss", "/shadow/loader_shadow.so");
    fixture_free(&f);
}
END_TEST

/* shadow/ first: now good/'s plugin is the one left out. */
START_TEST(test_shadowing_reversed)
{
    const char *paths[] = {SHADOW_DIR, GOOD_DIR};
    fixture f = load_paths(paths, 2);
    dump_messages(&f);
    ck_assert_int_eq(f.rep.n_loaded, 2);
    ck_assert_int_eq(f.rep.n_shadowed, 1);
    message_about(&f, GOOD_DIR "/loader_good.so: shadowed by " SHADOW_DIR "/loader_good.so");
    assert_from(&f, LT_DESC_LOSS, "BasenameTwinLoss", "/shadow/loader_good.so");
    assert_from(&f, LT_DESC_NODE, "LoaderTestNet", "/shadow/loader_shadow.so");
    ck_assert_ptr_null(find(&f, LT_DESC_NODE, "LoaderTestHead"));
    fixture_free(&f);
}
END_TEST

/* A directory reached twice, or a file both directly and through its
 * directory, loads once and says nothing. */
START_TEST(test_same_file_twice)
{
    const char *paths[] = {GOOD_DIR, GOOD_DIR "/loader_good.so", GOOD_DIR "/", LOADER_DIR "/good/../good"};
    fixture f = load_paths(paths, 4);
    dump_messages(&f);
    ck_assert_int_eq(f.rep.n_messages, 0);
    ck_assert_int_eq(f.rep.n_loaded, 1);
    ck_assert_uint_eq(lt_registry_count(f.registry), 7);
    fixture_free(&f);
}
END_TEST

/* ---- search order ---- */

/* A scratch user directory: <tmp>/ltrain/plugins -> target, or the same
 * under <tmp>/.local/share for HOME. */
typedef struct user_dir {
    char root[64], mid[128], link[192];
} user_dir;

static void user_dir_make(user_dir *u, const char *middle, const char *target)
{
    snprintf(u->root, sizeof u->root, "/tmp/ltrain-loader-test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(u->root));
    char cmd[512];
    snprintf(u->mid, sizeof u->mid, "%s%s/ltrain", u->root, middle);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", u->mid);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(u->link, sizeof u->link, "%s/plugins", u->mid);
    ck_assert_int_eq(symlink(target, u->link), 0);
}

static void user_dir_remove(const user_dir *u)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", u->root);
    ck_assert_int_eq(system(cmd), 0);
}

/* Which copy of LoaderTestNet won: "good" or "shadow". */
static const char *winner(const fixture *f)
{
    const lt_registry_entry *e = find(f, LT_DESC_NODE, "LoaderTestNet");
    ck_assert_ptr_nonnull(e);
    static char real[4096];
    ck_assert_ptr_nonnull(realpath(e->file, real)); /* through the user directory's symlink */
    return strstr(real, "/shadow/") ? "shadow" : strstr(real, "/good/") ? "good" : real;
}

static const char *run_order(const lt_loader_options *o)
{
    static char result[4096];
    fixture f = load(o);
    snprintf(result, sizeof result, "%s", winner(&f));
    fixture_free(&f);
    return result;
}

START_TEST(test_flag_before_env_before_config)
{
    const char *shadow[] = {SHADOW_DIR}, *good[] = {GOOD_DIR};
    lt_loader_options o = isolated();
    o.skip_env = false;

    setenv("LTRAIN_PLUGIN_PATH", GOOD_DIR, 1);
    o.flag_paths = shadow;
    o.n_flag_paths = 1;
    ck_assert_str_eq(run_order(&o), "shadow"); /* flag beats env */

    setenv("LTRAIN_PLUGIN_PATH", SHADOW_DIR, 1);
    o.flag_paths = good;
    ck_assert_str_eq(run_order(&o), "good");

    o.n_flag_paths = 0;
    o.config_paths = good;
    o.n_config_paths = 1;
    ck_assert_str_eq(run_order(&o), "shadow"); /* env beats config */
    setenv("LTRAIN_PLUGIN_PATH", GOOD_DIR, 1);
    o.config_paths = shadow;
    ck_assert_str_eq(run_order(&o), "good");

    o.skip_env = true; /* the switch the tests rely on */
    ck_assert_str_eq(run_order(&o), "shadow");
    unsetenv("LTRAIN_PLUGIN_PATH");
}
END_TEST

START_TEST(test_env_path_is_split_on_colons)
{
    lt_loader_options o = isolated();
    o.skip_env = false;
    setenv("LTRAIN_PLUGIN_PATH", GOOD_DIR ":" SHADOW_DIR, 1);
    ck_assert_str_eq(run_order(&o), "good");
    setenv("LTRAIN_PLUGIN_PATH", "::" SHADOW_DIR "::" GOOD_DIR ":", 1);
    ck_assert_str_eq(run_order(&o), "shadow");

    /* A missing entry is reported, the others still load. */
    setenv("LTRAIN_PLUGIN_PATH", LOADER_DIR "/nowhere:" GOOD_DIR, 1);
    fixture f = load(&o);
    ck_assert_str_eq(message_about(&f, "/nowhere"),
                     LOADER_DIR "/nowhere: plugin path from LTRAIN_PLUGIN_PATH does not exist");
    ck_assert_int_eq(f.rep.n_loaded, 1);
    ck_assert_int_eq(f.rep.n_failed, 0);
    fixture_free(&f);

    /* Same for a flag path. */
    const char *paths[] = {LOADER_DIR "/nowhere"};
    f = load_paths(paths, 1);
    ck_assert_str_eq(message_about(&f, "/nowhere"),
                     LOADER_DIR "/nowhere: plugin path from --plugin-path does not exist");
    fixture_free(&f);
    unsetenv("LTRAIN_PLUGIN_PATH");
}
END_TEST

START_TEST(test_config_before_user_dir)
{
    user_dir u;
    user_dir_make(&u, "", SHADOW_DIR);
    setenv("XDG_DATA_HOME", u.root, 1);
    lt_loader_options o = isolated();
    o.skip_user = false;
    ck_assert_str_eq(run_order(&o), "shadow"); /* found in $XDG_DATA_HOME/ltrain/plugins */

    const char *good[] = {GOOD_DIR};
    o.config_paths = good;
    o.n_config_paths = 1;
    ck_assert_str_eq(run_order(&o), "good");

    /* The report names the path as found in the user directory. */
    o.n_config_paths = 0;
    fixture f = load(&o);
    const lt_registry_entry *e = find(&f, LT_DESC_LOSS, "ShadowOnlyLoss");
    ck_assert_ptr_nonnull(e);
    ck_assert_msg(strncmp(e->file, u.link, strlen(u.link)) == 0, "%s", e->file);
    fixture_free(&f);

    o.skip_user = true;
    f = load(&o);
    ck_assert_uint_eq(lt_registry_count(f.registry), 0);
    fixture_free(&f);
    unsetenv("XDG_DATA_HOME");
    user_dir_remove(&u);
}
END_TEST

/* Without $XDG_DATA_HOME (or with a relative one, which the XDG rules say
 * to ignore) the user directory is ~/.local/share/ltrain/plugins. */
START_TEST(test_user_dir_under_home)
{
    user_dir u;
    user_dir_make(&u, "/.local/share", SHADOW_DIR);
    setenv("HOME", u.root, 1);
    lt_loader_options o = isolated();
    o.skip_user = false;
    unsetenv("XDG_DATA_HOME");
    ck_assert_str_eq(run_order(&o), "shadow");
    setenv("XDG_DATA_HOME", "relative/dir", 1);
    ck_assert_str_eq(run_order(&o), "shadow");
    /* A user directory that does not exist is not a problem. */
    setenv("XDG_DATA_HOME", "/nonexistent-ltrain-test", 1);
    fixture f = load(&o);
    ck_assert_int_eq(f.rep.n_messages, 0);
    ck_assert_uint_eq(lt_registry_count(f.registry), 0);
    fixture_free(&f);
    user_dir_remove(&u);
}
END_TEST

/* include_builtin_dir adds the build tree's plugins (after the user
 * directory, before the installed ones); off, they are not loaded. */
START_TEST(test_build_tree_dir)
{
    lt_loader_options o = isolated();
    fixture f = load(&o);
    ck_assert_uint_eq(lt_registry_count(f.registry), 0);
    fixture_free(&f);

    o.include_builtin_dir = true;
    const char *paths[] = {GOOD_DIR};
    o.flag_paths = paths;
    o.n_flag_paths = 1;
    f = load(&o);
    /* Every *.so of the build tree was tried: loaded or reported. */
    int tree_files = 0;
    DIR *d = opendir(LT_BUILD_PLUGINS_DIR);
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        tree_files += e->d_name[0] != '.' && n > 3 && strcmp(e->d_name + n - 3, ".so") == 0;
    }
    if (d) closedir(d);
    ck_assert_int_eq(f.rep.n_loaded + f.rep.n_failed, 1 + tree_files);
    assert_from(&f, LT_DESC_NODE, "LoaderTestNet", "/good/loader_good.so");
    fixture_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loader");
    TCase *plugins = tcase_create("plugins");
    tcase_add_test(plugins, test_good_plugin);
    tcase_add_test(plugins, test_descriptors_are_copies);
    tcase_add_test(plugins, test_each_broken_plugin_is_skipped_alone);
    tcase_add_test(plugins, test_load_file_errors);
    tcase_add_test(plugins, test_shadowing_first_wins);
    tcase_add_test(plugins, test_shadowing_reversed);
    tcase_add_test(plugins, test_same_file_twice);
    suite_add_tcase(s, plugins);
    TCase *order = tcase_create("search_order");
    tcase_add_test(order, test_flag_before_env_before_config);
    tcase_add_test(order, test_env_path_is_split_on_colons);
    tcase_add_test(order, test_config_before_user_dir);
    tcase_add_test(order, test_user_dir_under_home);
    tcase_add_test(order, test_build_tree_dir);
    suite_add_tcase(s, order);
    return fx_run_suite(s);
}
