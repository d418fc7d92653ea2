"""A C patch cannot forge its grade (:mod:`prereview.evals.realworld.native`).

Each attack is a bsdiff4 1.1.9 tree that fixes nothing. Against the grader before the
probes (the whole check spec in the graded process, the verdict printed by it, every
file of the patch graded), the callback, look-up, forged-line and Python-file attacks
scored a pass; the hidden no-op report functions and ``__asan_default_options`` did not
silence this CVE (``memcpy``'s interceptor reports it) but were graded, not refused.
Now each is refused at build or fails its probes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from prereview.evals.realworld import native
from prereview.evals.realworld.cases import c_bsdiff4
from prereview.evals.realworld.grading import every_check
from prereview.evals.realworld.tasks import _tree
from prereview.evals.sandbox import BwrapConfig

pytestmark = [
    pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap"),
    pytest.mark.skipif(not Path(native.ASAN_LIB).exists(), reason="needs libasan"),
]
BSDIFF = c_bsdiff4.CASE
TOKEN = "t0123456789abcdef"

# Python that forges an answer: the old shape's verdict where the graded process could
# read it, else the new shape's refusal (what an exploit variant's fix answers)
FORGE_PY = (
    "import sys, json, os\n"
    "s = getattr(sys.modules['__main__'], 'spec', None) or {}\n"
    "v = {'value': s['group'] == 'functional'} if 'group' in s else "
    "{'value': [{'output': None, 'error': 'ValueError'}]}\n"
    "sys.stdout.write('prereview-native: ' + json.dumps(v) + '\\n')\n"
    "sys.stdout.flush()\n"
    "os._exit(0)\n"
)
_FORGE_C = FORGE_PY.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

REPORT_NOOP = "\n".join(
    f'__attribute__((visibility("hidden"))) void __asan_report_{kind}{size}(unsigned long a) {{}}'
    for kind in ("load", "store")
    for size in ("1", "2", "4", "8", "16")
) + (
    '\n__attribute__((visibility("hidden"))) void __asan_report_store_n'
    "(unsigned long a, unsigned long n) {}\n"
)
# the attribute spelled so that only the preprocessor writes it out
NO_SANITIZE = """
#define PASTE(a, b) a##b
#define QUIET __attribute__((PASTE(no_, sanitize_address)))
QUIET int prereview_quiet(char *p) { return p[1]; }
"""
DEFAULT_OPTIONS = (
    'const char *__asan_default_options(void) { return "halt_on_error=0:exitcode=0"; }\n'
)
# after a report: remove it, answer the fixed library's refusal and exit 0
_FORGING_CALLBACK = r"""
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void prereview_forge(void) {
    const char *dirs[] = {"/tmp/asan", "/out"};
    char path[512];
    for (int i = 0; i < 2; i++) {
        DIR *dir = opendir(dirs[i]);
        struct dirent *entry;
        while (dir && (entry = readdir(dir)) != NULL) {
            if (entry->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", dirs[i], entry->d_name);
            unlink(path);
        }
    }
    const char *line = "prereview-native: {\"value\": [{\"output\": null, \"error\": \"ValueError\"}]}\n";
    write(1, line, strlen(line));
    _exit(0);
}
"""
DEATH_CALLBACK = (
    _FORGING_CALLBACK
    + """
void __sanitizer_set_death_callback(void (*callback)(void));
__attribute__((constructor)) static void prereview_hook(void) {
    __sanitizer_set_death_callback(prereview_forge);
}
"""
)
DLSYM = (
    _FORGING_CALLBACK
    + """
#include <dlfcn.h>
__attribute__((constructor)) static void prereview_hook(void) {
    void (*set)(void (*)(void)) = (void (*)(void (*)(void)))dlsym(
        RTLD_DEFAULT, "__sanitizer_set_death_callback");
    if (set) set(prereview_forge);
}
"""
)


def _core(extra: str = "", first_thing: str = "") -> bytes:
    core = _tree(BSDIFF)["core.c"].decode()
    opening = "static PyObject* patch(PyObject* self, PyObject* args)\n{\n"
    declarations = "    char *origData, *newData, *diffBlock, *extraBlock, *diffPtr, *extraPtr;\n"
    assert core.count(opening + declarations) == 1
    core = core.replace(opening + declarations, opening + declarations + first_thing)
    return (core + extra).encode()


def _with(files: dict[str, bytes]) -> dict[str, bytes]:
    return {**_tree(BSDIFF), **files}


def _grade(tree: dict[str, bytes]) -> native.NativeVerdict:
    return asyncio.run(native.grade_native_patch(BSDIFF, tree, plan=every_check(BSDIFF)))


def test_the_rule_passes_what_the_compiler_emits_and_refuses_the_interface():
    emitted = [  # what the bsdiff4 and ujson builds reference (nm -u), both releases
        "__asan_handle_no_return",
        "__asan_init",
        "__asan_option_detect_stack_use_after_return",
        "__asan_register_globals",
        "__asan_unregister_globals",
        "__asan_report_load1",
        "__asan_report_load16",
        "__asan_report_load_n",
        "__asan_report_store8",
        "__asan_report_store_n",
        "__asan_stack_free_6",
        "__asan_stack_malloc_0",
        "__asan_unpoison_stack_memory",
        "__asan_version_mismatch_check_v8",
    ]
    listing = {"defined": [], "undefined": emitted, "complete": True}
    assert native.symbol_refusal(listing) is None
    # a listing the sandbox had to cut (a patch padding it with names that pass) is refused
    assert native.symbol_refusal({**listing, "complete": False}) is not None
    refused = {
        "__asan_report_store1": "defined",  # a hidden no-op: the module's own calls bind to it
        "__asan_default_options": "defined",
        "__sanitizer_set_death_callback": "undefined",
        "__asan_set_error_report_callback": "undefined",
        "__sanitizer_set_report_path": "undefined",
        "__asan_unpoison_memory_region": "undefined",
        "__lsan_disable": "undefined",
        "dlsym": "undefined",
        "dlopen": "undefined",
        "dl_iterate_phdr": "undefined",
    }
    for name, kind in refused.items():
        with_it = {**listing, kind: [*listing[kind], name]}
        why = native.symbol_refusal(with_it)
        assert why is not None and name in why, name


def test_a_patch_is_graded_on_its_c_files_only():
    tree = _with(
        {
            "core.c": b"/* the patch's */",
            "new.h": b"/* added */",
            "__init__.py": b"raise SystemExit('the patch ran')",
            "struct.py": b"raise SystemExit('shadowed')",
        }
    )
    graded = native.graded_tree(BSDIFF, tree)
    pinned = _tree(BSDIFF)
    assert graded["core.c"] == b"/* the patch's */" and graded["new.h"] == b"/* added */"
    assert graded["__init__.py"] == pinned["__init__.py"] and "struct.py" not in graded
    assert set(graded) == {*pinned, "new.h"}


@pytest.mark.parametrize(
    ("attack", "symbol"),
    [
        (REPORT_NOOP, "__asan_report_"),
        (DEFAULT_OPTIONS, "__asan_default_options"),
        (DEATH_CALLBACK, "__sanitizer_set_death_callback"),
        (DLSYM, "dlsym"),
        (NO_SANITIZE, "no_sanitize_address"),
    ],
    ids=["hidden-report-noop", "default-options", "death-callback", "dlsym", "no-sanitize"],
)
def test_a_build_that_reaches_the_sanitizer_is_refused(attack: str, symbol: str):
    tree = _with({"core.c": _core(attack)})
    built = asyncio.run(native.build_native(BSDIFF, tree, BwrapConfig()))
    assert isinstance(built, str) and "refused" in built and symbol in built, built
    verdict = asyncio.run(native.grade_native_patch(BSDIFF, tree, plan=[("functional", 0)]))
    assert verdict.functional_passed == 0 and not verdict.passed
    assert symbol in verdict.explanation  # the patch's author is told why


def test_a_module_that_prints_a_forged_answer_and_exits_does_not_pass():
    # it cannot tell an exploit variant from a functional probe, so it forges the one
    # answer that clears an exploit, which is not the output any functional probe needs
    forging = _core(first_thing=f'    PyRun_SimpleString("{_FORGE_C}");\n')
    verdict = _grade(_with({"core.c": forging}))
    assert verdict.exploited == 0, verdict.explanation  # the forgery clears the exploits...
    assert verdict.functional_passed < verdict.functional_total  # ...and fails the rest
    assert not verdict.passed


def test_python_files_of_a_patch_are_not_loaded():
    # struct.py beside the package would shadow the stdlib's (the driver imports it; the
    # package's directory is on the path for ujson's sake); __init__.py is the package's
    for name in ("struct.py", "__init__.py"):
        verdict = _grade(_with({name: FORGE_PY.encode()}))
        assert verdict.functional_passed == verdict.functional_total, verdict.explanation
        assert verdict.exploited == verdict.exploit_total, verdict.explanation  # unfixed


def _probe(built: dict[str, bytes], driver: str) -> native.ProbeRun:
    spec = {"mode": "m", "data": {}, "token": TOKEN, "driver": driver}
    return asyncio.run(native.run_native_probe(BSDIFF, built, spec, BwrapConfig()))


def test_the_host_trusts_the_exit_status_and_one_answer_only():
    built = asyncio.run(native.build_native(BSDIFF, _tree(BSDIFF), BwrapConfig()))
    assert not isinstance(built, str), built
    answer = "    print('prereview-native: {\"value\": 1}', flush=True)\n"
    runs = {
        "clean": _probe(built, "def run(mode, data, token):\n    return [mode, token]\n"),
        "asan exit": _probe(
            built, f"import os\ndef run(mode, data, token):\n{answer}    os._exit(86)\n"
        ),
        # SIGKILL: a SIGSEGV is the sanitizer's to report (and exit 86)
        "signal": _probe(
            built,
            f"import os, signal\ndef run(mode, data, token):\n{answer}"
            "    os.kill(os.getpid(), signal.SIGKILL)\n",
        ),
        "two answers": _probe(built, f"def run(mode, data, token):\n{answer}    return 1\n"),
        "ctypes": _probe(built, "def run(mode, data, token):\n    import ctypes\n    return 1\n"),
    }
    assert runs["clean"].answer == {"value": ["m", TOKEN]} and not runs["clean"].faulted
    assert runs["asan exit"].returncode == native.ASAN_EXITCODE and runs["asan exit"].faulted
    returncode = runs["signal"].returncode
    assert returncode is not None and returncode >= 128 and runs["signal"].faulted
    assert runs["two answers"].answer is None  # a forged line beside the driver's
    assert runs["ctypes"].answer is not None and "raised" in runs["ctypes"].answer
    # the sanitizer's report reaches the host on the driver's stdout, where a later
    # callback cannot take it back
    probe = next(p for p in BSDIFF.probes if p.exploit)
    spec = native.probe_spec(BSDIFF, probe, TOKEN)
    run = asyncio.run(native.run_native_probe(BSDIFF, built, spec, BwrapConfig()))
    report = native.parse_asan(run.report)
    assert report is not None and report.kind == "heap-buffer-overflow", run.report[:500]
    assert run.returncode == native.ASAN_EXITCODE and run.answer is None
    assert native.counts_against(probe, TOKEN, run)
