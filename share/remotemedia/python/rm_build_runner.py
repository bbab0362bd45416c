"""Run by rm-build as: python3 -I rm_build_runner.py PIPELINE.py FD

Imports the pipeline file as a module named after it (so a __main__ block
does not run), finds its Pipeline (a global named "pipeline", the only
Pipeline global, or what build_pipeline() returns), and writes one JSON
object to file descriptor FD:
  {"manifest", "data": [{"path", "base64"}], "local_modules": [...],
   "python": {...}, "imports": [{"module", "distribution", "version"}]}
A failure prints the Python traceback on stderr and exits 3.
"""

import ast
import base64
import json
import os
import runpy
import sys
import traceback

# the tool that runs this, for the messages (rm-build, or rm-schedule run)
TOOL = os.environ.get("RM_TOOL_NAME") or "rm-build"


def stdlib_names():
    names = set(sys.builtin_module_names)
    names.update(getattr(sys, "stdlib_module_names", ()))
    if not getattr(sys, "stdlib_module_names", None):  # Python 3.9
        import sysconfig
        std = sysconfig.get_paths()["stdlib"]
        for entry in os.listdir(std):
            base = entry[:-3] if entry.endswith(".py") else entry
            names.add(base)
    names.add("__future__")
    return names


def imports_of(path, package_parts):
    """(absolute top-level names, relative module paths) imported by a file."""
    with open(path, "rb") as fh:
        tree = ast.parse(fh.read(), filename=path)
    tops, relative = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                tops.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                tops.add(node.module.split(".")[0])
            elif node.level > 0 and package_parts:
                base = package_parts[: len(package_parts) - (node.level - 1)]
                if base:
                    relative.add(base[0])
    return tops, relative


def local_files(root, top):
    """The files of a local module or package named top, or []."""
    single = os.path.join(root, top + ".py")
    if os.path.isfile(single):
        return [top + ".py"]
    pkg = os.path.join(root, top)
    if os.path.isdir(pkg) and os.path.isfile(os.path.join(pkg, "__init__.py")):
        out = []
        for dirpath, dirnames, filenames in os.walk(pkg):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for f in sorted(filenames):
                if f.endswith(".py"):
                    full = os.path.join(dirpath, f)
                    out.append(os.path.relpath(full, root).replace(os.sep, "/"))
        return out
    return []


def analyse(pipeline_path):
    root = os.path.dirname(os.path.abspath(pipeline_path))
    std = stdlib_names()
    todo = [(os.path.abspath(pipeline_path), [])]
    seen_files, local, third = set(), set(), set()
    while todo:
        path, parts = todo.pop()
        if path in seen_files:
            continue
        seen_files.add(path)
        tops, relative = imports_of(path, parts)
        for top in sorted(tops | relative):
            if top in std or top == "remotemedia":
                continue
            files = local_files(root, top)
            if files:
                for rel in files:
                    if rel not in local:
                        local.add(rel)
                        parts2 = rel[:-3].split("/")
                        if parts2[-1] == "__init__":
                            parts2 = parts2[:-1]
                        else:
                            parts2 = parts2[:-1]
                        todo.append((os.path.join(root, rel), parts2))
            elif top not in relative:
                third.add(top)
    return sorted(local), sorted(third)


def distributions(modules):
    out = []
    try:
        import importlib.metadata as md
        mapping = md.packages_distributions() if hasattr(md, "packages_distributions") else {}
    except Exception:
        md, mapping = None, {}
    for mod in modules:
        dist = version = None
        names = mapping.get(mod) or []
        if names:
            dist = sorted(names)[0]
        elif md is not None:
            try:
                md.version(mod)
                dist = mod
            except Exception:
                pass
        if dist is not None:
            try:
                version = md.version(dist)
            except Exception:
                version = None
        out.append({"module": mod, "distribution": dist, "version": version})
    return out


def load_module(path):
    """Imports the file as a module named after it (so that objects of its
    classes pickle by reference, "voice.Cfg"); __main__ blocks do not run."""
    import importlib.util
    name = os.path.splitext(os.path.basename(path))[0]
    if not name.isidentifier():
        return runpy.run_path(path, run_name="__rm_build__")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return vars(module)


def find_pipeline(g, Pipeline):
    p = g.get("pipeline")
    if isinstance(p, Pipeline):
        return p
    found = [v for k, v in sorted(g.items()) if isinstance(v, Pipeline) and not k.startswith("_")]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise SystemExit("%s: %d Pipeline objects defined; name the one to build "
                         "'pipeline'" % (TOOL, len(found)))
    for name in ("build_pipeline", "create_pipeline"):
        fn = g.get(name)
        if callable(fn):
            p = fn()
            if isinstance(p, Pipeline):
                return p
    raise SystemExit("%s: the file defines no Pipeline (assign one to 'pipeline' "
                     "or define build_pipeline())" % TOOL)


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: rm_build_runner.py PIPELINE.py FD\n")
        return 2
    path, fd = sys.argv[1], int(sys.argv[2])
    out = os.fdopen(fd, "w", encoding="utf-8")
    root = os.path.dirname(os.path.abspath(path))
    # -I leaves the script's directory off sys.path: the SDK first, then the
    # pipeline's own directory for its local modules
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(1, root)
    try:
        from remotemedia import Pipeline
        g = load_module(path)
        p = find_pipeline(g, Pipeline)
        manifest = p.to_dict()
        local, third = analyse(path)
    except SystemExit as e:
        if isinstance(e.code, str):
            sys.stderr.write(e.code + "\n")
            return 3
        raise
    except BaseException:
        traceback.print_exc()
        return 3
    result = {
        "manifest": manifest,
        "data": [{"path": k, "base64": base64.b64encode(v).decode("ascii")}
                 for k, v in sorted(p.data_files.items())],
        "local_modules": local,
        "python": {"implementation": sys.implementation.name,
                   "version": "%d.%d.%d" % sys.version_info[:3]},
        "imports": distributions(third),
    }
    json.dump(result, out, sort_keys=True, allow_nan=False)
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
