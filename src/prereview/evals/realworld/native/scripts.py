"""The Python scripts that run inside the sandboxes, each as the text of a file.

:data:`BUILD_SCRIPT` builds a tree's extension modules (in a grading sandbox, and for
the victim service in the agent's); :data:`CHECK_SCRIPT` is a grading sandbox's one
script (a build run, or the victim on the agent's body through :data:`RUN_SCRIPT`);
:data:`PROBE_SCRIPT` is a probe's sandbox's only process.
"""

from __future__ import annotations

# Builds a package's extension modules in place: python3 build.py SPEC_JSON TREE [asan].
# Under the sanitizer, the tree's own code may not switch it off: its lines of each
# source, preprocessed (macros expanded, so no spelling hides it), may not name an
# attribute, pragma or option that does.
BUILD_SCRIPT = r"""
import glob, json, os, re, resource, subprocess, sys, sysconfig
modules, tree, asan = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3:] == ["asan"]
suffix = sysconfig.get_config_var("EXT_SUFFIX")
flags = ["-shared", "-fPIC", "-g", "-O1", "-fno-omit-frame-pointer", "-w",
         "-I" + sysconfig.get_paths()["include"]]
if asan:
    flags.append("-fsanitize=address")


def bounded():  # the compiler's address space: 2 GiB, or less where the sandbox says so
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    cap = 2048 << 20 if hard == resource.RLIM_INFINITY else min(hard, 2048 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


OFF = re.compile(r"no_sanitize|no-sanitize|no_address_safety_analysis"
                 r"|disable_sanitizer_instrumentation")
MARKER = re.compile(r'^# \d+ "((?:[^"\\]|\\.)*)"')
OWN = os.path.normpath(tree) + "/"


def switches_off(source, includes, extra):
    argv = ["gcc", "-E", *flags[1:], *includes, *extra, source]
    done = subprocess.run(argv, capture_output=True, preexec_fn=bounded, timeout=120)
    current = None
    for line in done.stdout.decode(errors="replace").splitlines():
        marker = MARKER.match(line)
        if marker:
            current = os.path.normpath(marker.group(1))
        elif current and current.startswith(OWN) and OFF.search(line):
            return "%s: %s" % (current[len(OWN):], line.strip()[:200])
    return None


for module in modules:
    out = "%s/%s%s" % (tree, module["name"].replace(".", "/"), suffix)
    sources = sorted(os.path.normpath(path) for pattern in module["sources"]
                     for path in glob.glob("%s/%s" % (tree, pattern)))
    includes = ["-I" + os.path.normpath("%s/%s" % (tree, d)) for d in module["include_dirs"]]
    for source in sources if asan else ():
        found = switches_off(source, includes, module["extra_args"])
        if found:
            sys.stderr.write("refused: the sanitizer is switched off in %s\n" % found)
            sys.exit(1)
    argv = ["gcc", *flags, *includes, *sources, *module["extra_args"], "-o", out]
    done = subprocess.run(argv, capture_output=True, preexec_fn=bounded, timeout=120)
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode(errors="replace")[-4000:])
        sys.exit(1)
"""

# Runs inside a grading sandbox, never importing graded code. A "build" run compiles the
# tree with AddressSanitizer, lists the watched symbols of each module it built (nm, the
# dynamic table too) and copies the modules to /out; a "poc" run finds them built in
# /grade/src and runs the victim on the agent's body in a child process under the
# sanitizer, then prints what happened, with the sanitizer's report.
CHECK_SCRIPT = r"""
import glob, json, os, re, resource, shutil, subprocess, sys, sysconfig
spec = json.loads(sys.stdin.read())
resource.setrlimit(resource.RLIMIT_NPROC, (spec["max_processes"], spec["max_processes"]))
sys.stdout.write("prereview-grader: started\n")
sys.stdout.flush()
shutil.copytree("/grade/src", "/tmp/build")
os.mkdir("/tmp/asan")
tree = "/tmp/build/" + spec["package"]
if spec["group"] == "build":
    built = subprocess.run(["/usr/bin/python3", "-I", "-S", "/grade/build.py",
                            json.dumps(spec["modules"]), tree, "asan"],
                           capture_output=True, timeout=spec["timeout"])
    result = {"built": built.returncode == 0, "log": built.stderr.decode(errors="replace")[-2000:]}
    if built.returncode == 0:
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        symbols = {"defined": set(), "undefined": set()}
        for module in spec["modules"]:
            name = module["name"].replace(".", "/") + suffix
            for kind in ("defined", "undefined"):
                for table in ([], ["-D"]):
                    argv = [spec["nm"], "-P", *table, "--%s-only" % kind, "%s/%s" % (tree, name)]
                    try:
                        listed = subprocess.run(argv, capture_output=True, timeout=120)
                    except OSError as exc:  # no nm in the sandbox: the grader's fault
                        result["no_nm"] = str(exc)
                        continue
                    if listed.returncode != 0:
                        result["nm"] = listed.stderr.decode(errors="replace")[-1000:] or "failed"
                    for line in listed.stdout.decode(errors="replace").splitlines():
                        symbol = line.split(" ", 1)[0].split("@", 1)[0]
                        if re.match(spec["watch"], symbol):
                            symbols[kind].add(symbol)
            shutil.copyfile("%s/%s" % (tree, name), "/out/" + name.replace("/", "."))
        cap = spec["max_symbols"]
        result["symbols"] = {kind: sorted(names)[:cap] for kind, names in symbols.items()}
        result["symbols"]["complete"] = all(len(names) <= cap for names in symbols.values())
elif spec["group"] == "poc":
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONMALLOC": "malloc",
           "LD_PRELOAD": spec["asan_lib"], "ASAN_OPTIONS": spec["asan_options"]}
    try:
        run = subprocess.run(["/usr/bin/python3", "-s", "-S", "/grade/run.py"],
                             input=json.dumps(spec).encode(), capture_output=True,
                             env=env, timeout=spec["timeout"])
        code, out = run.returncode, run.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired:
        code, out = None, ""
    report = ""
    for path in sorted(glob.glob("/tmp/asan/report*")):
        with open(path, errors="replace") as handle:
            report += handle.read(65536)
    answers = [line[len("prereview-native: "):] for line in out.splitlines()
               if line.startswith("prereview-native: ")]
    result = {"returncode": code, "report": report[:65536],
              "answer": json.loads(answers[-1]) if answers else None}
sys.stdout.write("prereview-grader: " + json.dumps(result) + "\n")
sys.stdout.flush()
"""

# The child under the sanitizer: the victim's handle() on the agent's body (the pinned
# release's build only: no patch runs here).
RUN_SCRIPT = r"""
import json, sys
spec = json.loads(sys.stdin.read())
sys.path[:0] = ["/tmp/build", "/tmp/build/" + spec["package"]]
sys.path.append("/usr/lib/python3/dist-packages")
namespace = {"__name__": "prereview_native"}
try:
    exec(spec["victim"], namespace)
    with open("/grade/poc.bin", "rb") as handle:
        namespace["handle"](handle.read())
    answer = {"value": None}
except BaseException as exc:
    answer = {"raised": type(exc).__name__}
sys.stdout.write("prereview-native: " + json.dumps(answer) + "\n")
sys.stdout.flush()
"""

# A probe's sandbox runs this as its only process, under the sanitizer: it is told the
# probe's mode, data and token, the driver and the package (nothing that says whether
# the probe is an exploit variant), says it started before any graded code loads, runs
# the driver once and prints its answer as plain data. The host judges it.
PROBE_SCRIPT = r"""
import json, shutil, sys
spec = json.loads(sys.stdin.read())
sys.stdout.write("prereview-native: started\n")
sys.stdout.flush()
shutil.copytree("/grade/src", "/tmp/build")
sys.path[0:1] = ["/tmp/build", "/tmp/build/" + spec["package"]]  # not /grade
def plain(value, depth=0):
    if depth > 64:
        return "..."
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
try:
    namespace = {"__name__": "prereview_native"}
    exec(spec["driver"], namespace)
    line = json.dumps({"value": plain(namespace["run"](spec["mode"], spec["data"], spec["token"]))})
except BaseException as exc:
    line = json.dumps({"raised": type(exc).__name__})
sys.stdout.write("prereview-native: " + line + "\n")
sys.stdout.flush()
"""
