"""The symbol rule: what a module built from a patch may define and reference.

A build run lists, with ``nm``, the names of each module it built that match
:data:`WATCHED` (sanitizer names and the dynamic linker's look-ups); the host then
decides with :func:`symbol_refusal` whether the module may be graded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SANITIZER_PREFIXES = (
    "__asan",
    "__sanitizer",
    "__lsan",
    "__ubsan",
    "__interceptor",
    "__msan",
    "__tsan",
    "__hwasan",
)
# what GCC's -fsanitize=address emits calls to: the reference builds reference
# __asan_{init,version_mismatch_check_v8,(un)register_globals,handle_no_return,
# option_detect_stack_use_after_return,unpoison_stack_memory}, __asan_report_{load,store}
# {1,2,4,8,16,_n} and __asan_stack_{malloc,free}_N; the rest are what other code shapes
# make it emit (outlined checks past a size threshold, alloca, C++ array cookies)
MAX_WATCHED_SYMBOLS = 500  # a build names ~30; past that the listing is refused, not cut
_COMPILER_EMITTED = re.compile(
    r"__asan_(?:report_(?:exp_)?(?:load|store)(?:1|2|4|8|16|_n)(?:_noabort)?"
    r"|(?:load|store)(?:1|2|4|8|16|N)(?:_noabort)?"
    r"|init|version_mismatch_check_v\d{1,2}|(?:un)?register_(?:elf_|image_)?globals"
    r"|handle_no_return|option_detect_stack_use_after_return|stack_(?:malloc|free)_\d{1,2}"
    r"|(?:un)?poison_stack_memory|alloca_poison|allocas_unpoison"
    r"|(?:before|after)_dynamic_init|(?:poison|load)_cxx_array_cookie|mem(?:cpy|move|set))"
)
# look-ups by name at run time, and the dynamic linker's own lists of loaded objects
_LOOKUPS = frozenset(
    {
        "dlsym",
        "dlvsym",
        "dlopen",
        "dlmopen",
        "dladdr",
        "dladdr1",
        "dlinfo",
        "dl_iterate_phdr",
        "_dl_sym",
        "_r_debug",
        "__libc_dlsym",
        "__libc_dlvsym",
        "__libc_dlopen_mode",
    }
)
# the names a build run reports from nm (the host's rule then decides): sanitizer names
# and the look-ups
WATCHED = (
    r"^(?:__(?:asan|sanitizer|lsan|ubsan|interceptor|msan|tsan|hwasan)|_?_?(?:libc_)?dl|_r_debug)"
)


def symbol_refusal(symbols: Mapping[str, Any]) -> str | None:
    """Why a built module may not be graded, from the watched names ``nm`` found in it
    (``{"defined": [...], "undefined": [...]}``), or None. Refused: defining any sanitizer
    name, whatever its binding (a hidden definition binds the module's own calls to it);
    referencing a sanitizer name the compiler does not emit itself; referencing a look-up
    by name (``dlsym``...), which reaches the same at run time. A list cut short is
    refused too: what it left out could be any of these."""
    if symbols.get("complete") is not True:
        return (
            f"the module names more than {MAX_WATCHED_SYMBOLS} of the sanitizer's symbols "
            "(or nm's listing was cut short)"
        )
    defined = [str(n) for n in symbols.get("defined", ()) if str(n).startswith(_SANITIZER_PREFIXES)]
    if defined:
        return (
            f"the module defines {defined[0]}, a name of the sanitizer's runtime: a patch may "
            "not replace the instrumentation the grader relies on"
        )
    for name in map(str, symbols.get("undefined", ())):
        if name.startswith(_SANITIZER_PREFIXES) and not _COMPILER_EMITTED.fullmatch(name):
            return (
                f"the module calls {name}, the sanitizer's interface: a patch may not "
                "change how the sanitizer reports or exits"
            )
        if name in _LOOKUPS:
            return (
                f"the module references {name}: a patch may not look up symbols at run "
                "time (it would reach the sanitizer's interface by name)"
            )
    return None
