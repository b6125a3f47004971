"""A generated corpus of hostile inputs: project files, CSVs and weight files.

Every case is (name, write) where write(folder) puts the hostile file(s) in `folder` and
returns the path to hand to the program. Deterministic (seeded), so a failure names a case
that can be rebuilt. The secret marker stands for a file's contents that must never appear
in an error line.
"""
from __future__ import annotations

import copy
import io
import json
import os
import random
import struct
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from core.settings import DataSettings, TrainingSettings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "assets" / "examples").glob("*.json"))
# The field-by-field sweep mutates the small examples (a case costs milliseconds, not a tenth
# of a second); the structural cases use every example.
SWEEP_EXAMPLES = ("chain", "softmax3", "xor")
SECRET = "SECRET-d41d8cd98f00b204"  # contents of files that are not the user's CSV

Case = tuple[str, Callable[[Path], Path]]

# Values put into numeric fields: beyond float range, at the edges, and of the wrong type.
HOSTILE_NUMBERS: list[Any] = [10**400, -(10**400), 10**308 * 10, 2**63, -1, 0, 0.5, 1e308,
                              5e-324, float("nan"), float("inf"), "1", True, None, []]


def example(name: str) -> dict:
    return json.loads((ROOT / "assets" / "examples" / f"{name}.json").read_text())


def numeric_paths(doc: dict) -> list[tuple]:
    """Every numeric field a project can hold (settings included even where the file omits
    them), with a few neurons and edges standing for the rest."""
    paths: list[tuple] = [("format",), ("goal", "loss"), ("goal", "epochs")]
    for section, cls in (("data", DataSettings), ("training", TrainingSettings)):
        for key, value in vars(cls()).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                paths.append((section, key))
    for i in sorted({0, len(doc["neurons"]) - 1}):
        paths += [("neurons", i, "bias"), ("neurons", i, "x"), ("neurons", i, "y")]
    if doc["edges"]:
        paths.append(("edges", 0, "weight"))
    return paths


def put(doc: Any, path: tuple, value: Any) -> Any:
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        if isinstance(target, dict) and target.get(key) is None:
            target[key] = {}
        target = target[key]
    target[path[-1]] = value
    return doc


def _text(doc: Any) -> str:
    return json.dumps(doc)  # NaN and Infinity as JSON's non-standard constants


def _writes(text: str | bytes, name: str = "project.json") -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        return path
    return write


def project_cases() -> list[Case]:
    cases: list[Case] = []
    for ex in EXAMPLES:
        doc = json.loads(ex.read_text())
        if ex.stem in SWEEP_EXAMPLES:
            for path in numeric_paths(doc):
                for value in HOSTILE_NUMBERS:
                    cases.append((f"{ex.stem}:{'.'.join(map(str, path))}={str(value)[:12]}",
                                  _writes(_text(put(doc, path, value)))))
        cases += _structural_cases(ex.stem, doc)
    return cases


def _structural_cases(stem: str, doc: dict) -> list[Case]:
    out: list[Case] = []

    def add(label: str, new: Any) -> None:
        out.append((f"{stem}:{label}", _writes(new if isinstance(new, str) else _text(new))))

    def with_roles(role_from: str, role_to: str) -> dict:
        new = copy.deepcopy(doc)
        for n in new["neurons"]:
            if n["role"] == role_from:
                n["role"] = role_to
        return new

    add("no-inputs", with_roles("input", "hidden"))
    add("no-outputs", with_roles("output", "hidden"))
    add("no-neurons", {**doc, "neurons": [], "edges": []})
    add("no-edges", {**doc, "edges": []})
    add("one-input-removed", {**doc, "neurons": [n for n in doc["neurons"] if n["role"] != "input"][:1]
                              + doc["neurons"][1:], "edges": []})
    add("extra-output", {**doc, "neurons": doc["neurons"] + [{"id": "zz", "role": "output"}]})
    add("extra-input", {**doc, "neurons": [{"id": "zz", "role": "input"}] + doc["neurons"]})
    for key in ("neurons", "edges", "data", "training", "goal", "title"):
        for bad in (None, 1, "x", [], {}, [[]], [None]):
            add(f"{key}={bad!r}", {**doc, key: bad})
    for key in ("data", "training") if stem in SWEEP_EXAMPLES else ():
        for field in list(doc[key]):
            for bad in ({}, "x" * 5000, ["x"] * 3):
                add(f"{key}.{field}={str(bad)[:8]}", put(doc, (key, field), bad))
    add("deep-data", '{"format": 1, "neurons": [], "edges": [], "data": ' + "[" * 100_000
        + "]" * 100_000 + "}")
    add("deep-object", '{"format": 1, "neurons": ' + '{"a":' * 50_000 + "1" + "}" * 50_000 + "}")
    add("huge-int-text", '{"format": 1' + "0" * 5000 + "}")
    add("title-2MB", {**doc, "title": "t" * 2_000_000})
    add("description-200k", {**doc, "description": "d" * 200_000})
    add("id-10k", put(doc, ("neurons", 0, "id"), "i" * 10_000))
    add("label-1MB", put(doc, ("neurons", 0, "label"), "l" * 1_000_000))
    add("csv-path-100k", put(put(doc, ("data", "source"), "csv"), ("data", "csv_path"), "p" * 100_000))
    add("columns-100k", put(put(put(doc, ("data", "source"), "csv"), ("data", "csv_path"), "d.csv"),
                            ("data", "input_columns"), [f"c{i}" for i in range(100_000)]))
    add("cycle", {**doc, "edges": doc["edges"] + [{"id": "back", "source": doc["edges"][-1]["target"],
                                                   "target": doc["edges"][-1]["source"]}]})
    add("duplicate-ids", {**doc, "neurons": doc["neurons"] + doc["neurons"][:1]})
    add("edge-to-nowhere", {**doc, "edges": doc["edges"] + [{"id": "q", "source": "nope", "target": "nope2"}]})
    add("nul-id", put(doc, ("neurons", 0, "id"), "a\x00b"))
    add("bom", "\ufeff" + _text(doc))
    add("utf16", _text(doc).encode("utf-16").decode("latin-1"))
    add("empty", "")
    add("garbage", "\x00\x01\x02" * 1000)
    add("list", "[1, 2, 3]")
    add("newer-format", {**doc, "format": 2})
    add("decay-step-1e6", put(put(put(doc, ("training", "decay"), "step"), ("training", "decay_rate"), 1e6),
                              ("training", "decay_steps"), 1))
    add("decay-exp-1e6", put(put(put(doc, ("training", "decay"), "exponential"),
                                 ("training", "decay_rate"), 1e6), ("training", "decay_steps"), 1))
    return out


def special_file_cases(fifo_ok: bool = True) -> list[Case]:
    """The project file itself, or its csv_path, is not a regular file."""
    doc = example("xor")
    out: list[Case] = []

    def fifo(folder: Path) -> Path:
        path = folder / "pipe.json"
        os.mkfifo(path)
        return path

    def symlink_to(target: str, name: str) -> Callable[[Path], Path]:
        def write(folder: Path) -> Path:
            path = folder / name
            os.symlink(target, path)
            return path
        return write

    if fifo_ok and hasattr(os, "mkfifo"):
        out.append(("project-is-fifo", fifo))
    for dev in ("/dev/zero", "/dev/urandom", "/dev/null", "/dev/stdin", "/"):
        if os.path.exists(dev):
            out.append((f"project-is-{dev}", lambda folder, dev=dev: Path(dev)))
            out.append((f"project-links-to-{dev}", symlink_to(dev, f"link{dev.replace('/', '_')}.json")))
    out.append(("project-is-folder", lambda folder: folder))
    out.append(("project-missing", lambda folder: folder / "missing.json"))
    out.append(("project-dangling-link", symlink_to("/nonexistent/x.json", "dangling.json")))

    def csv_project(csv_target: Callable[[Path], str]) -> Callable[[Path], Path]:
        def write(folder: Path) -> Path:
            d = put(put(doc, ("data", "source"), "csv"), ("data", "csv_path"), csv_target(folder))
            d = put(put(d, ("data", "input_columns"), ["a", "b"]), ("data", "target_columns"), ["y"])
            path = folder / "csvproject.json"
            path.write_text(_text(d))
            return path
        return write

    def make_fifo_csv(folder: Path) -> str:
        os.mkfifo(folder / "data.csv")
        return str(folder / "data.csv")

    def secret_file(name: str) -> Callable[[Path], str]:
        def make(folder: Path) -> str:
            (folder / name).write_text(f"{SECRET} root:x:0:0\n{SECRET},{SECRET}\n{SECRET}\n")
            return str(folder / name)
        return make

    if fifo_ok and hasattr(os, "mkfifo"):
        out.append(("csv-is-fifo", csv_project(make_fifo_csv)))
    for dev in ("/dev/zero", "/dev/urandom", "/dev/null", "/etc/passwd", "/proc/self/environ", "/"):
        if os.path.exists(dev):
            out.append((f"csv-is-{dev}", csv_project(lambda folder, dev=dev: dev)))
    for name in ("id_rsa", "passwd", "environ", "secret.json", "notes.md"):
        out.append((f"csv-is-secret-{name}", csv_project(secret_file(name))))
    out.append(("csv-is-folder", csv_project(lambda folder: str(folder))))
    out.append(("csv-missing", csv_project(lambda folder: str(folder / "none.csv"))))
    out.append(("csv-nul-name", csv_project(lambda folder: "a\x00b.csv")))
    return out


# ----- CSV ----------------------------------------------------------------------------------
def csv_cases(n_random: int = 400, seed: int = 12) -> list[tuple[str, bytes]]:
    """(name, bytes) of CSV files with columns a, b (inputs) and y (target) when they have any."""
    base = [["a", "b", "y"]] + [[str(i), str(i * 2), str(i % 2)] for i in range(6)]
    fixed = {
        "underscore-digits": "a,b,y\n1_000,2,0\n3,4,1\n5,6,0\n",
        "arabic-indic": "a,b,y\n\u0661\u0662,2,0\n3,4,1\n5,6,0\n",
        "fullwidth": "a,b,y\n\uff11,2,0\n3,4,1\n5,6,0\n",
        "inf": "a,b,y\ninf,2,0\n3,4,1\n",
        "1e999": "a,b,y\n1e999,2,0\n3,4,1\n",
        "huge-digits": "a,b,y\n" + "9" * 5000 + ",2,0\n3,4,1\n",
        "nul": "a,b,y\n1\x00,2,0\n3,4,1\n",
        "field-200k": "a,b,y\n" + "1" * 200_000 + ",2,0\n3,4,1\n",
        "quote-open": 'a,b,y\n"1,2,0\n3,4,1\n',
        "cr-only": "a,b,y\r1,2,0\r3,4,1\r5,6,0\r",
        "bom": "\ufeffa,b,y\n1,2,0\n3,4,1\n",
        "header-only": "a,b,y\n",
        "empty": "",
        "blank-lines": "\n\n\n",
        "duplicate-a": "a,a,b,y\n1,1,2,0\n3,3,4,1\n",
        "short-row": "a,b,y\n1,2\n3,4,1\n",
        "long-row": "a,b,y\n1,2,0,9,9\n3,4,1\n",
        "wide-1e5-header": ",".join(f"c{i}" for i in range(100_000)) + "\n" + ",".join("1" * 100_000) + "\n",
        "one-class": "a,b,y\n1,2,0\n3,4,0\n",
        "spaces": "a , b , y \n 1 , 2 , 0 \n 3 , 4 , 1 \n",
        "tabs-number": "a,b,y\n\t1\t,2,0\n3,4,1\n",
        "nbsp-number": "a,b,y\n\u00a01,2,0\n3,4,1\n",
    }
    out = [(name, text.encode("utf-8")) for name, text in fixed.items()]
    out.append(("latin1", "a,b,y\n\xe9,2,0\n3,4,1\n".encode("latin-1")))
    out.append(("binary", bytes(range(256)) * 40))
    rng = random.Random(seed)
    tokens = ["1_0", "\u0663", "nan", "-inf", "1e400", '"', "\x00", "\r", ",", "\n", "١", "0x10",
              "1,5", " ", "", "'", "=1+1", "\ufeff", "9" * 400, "é", "\u2028", "1e-400", "+.5", "-."]
    for i in range(n_random):
        rows = copy.deepcopy(base)
        for _ in range(rng.randint(1, 4)):
            r = rng.randrange(len(rows))
            c = rng.randrange(len(rows[r]))
            rows[r][c] = rng.choice(tokens) if rng.random() < 0.7 else rows[r][c] + rng.choice(tokens)
        text = "\n".join(",".join(row) for row in rows) + "\n"
        out.append((f"random-{i}", text.encode("utf-8", "surrogatepass")))
    return out


# ----- weight files -------------------------------------------------------------------------
def weight_json_cases(edges: list[list[str]], biased: list[str]) -> list[tuple[str, bytes]]:
    good = {"format": "backprop-studio-weights", "version": 1,
            "weights": {e[0]: 0.5 for e in edges}, "biases": {b: 0.1 for b in biased},
            "edges": edges}
    e0 = edges[0][0]
    variants: dict[str, Any] = {
        "good": good,
        "short-edge": {**good, "edges": [[e0]]},
        "short-edge-2": {**good, "edges": [edges[0][:2]]},
        "edge-numbers": {**good, "edges": [[1, 2, 3]]},
        "edge-not-list": {**good, "edges": [e0]},
        "edges-dict": {**good, "edges": {"a": 1}},
        "huge-weight": {**good, "weights": {**good["weights"], e0: 10**400}},
        "huge-bias": {**good, "biases": {b: -(10**400) for b in biased}},
        "nan-weight": {**good, "weights": {**good["weights"], e0: float("nan")}},
        "bool-weight": {**good, "weights": {**good["weights"], e0: True}},
        "weights-list": {**good, "weights": [1, 2]},
        "no-weights": {k: v for k, v in good.items() if k != "weights"},
        "no-biases": {k: v for k, v in good.items() if k != "biases"},
        "wrong-format": {**good, "format": "x"},
        "list": [good],
        "long-id": {**good, "weights": {**good["weights"], "w" * 100_000: 1.0}},
        "extra-bias": {**good, "biases": {**good["biases"], "b" * 10_000: 1.0}},
    }
    out = [(name, json.dumps(v).encode()) for name, v in variants.items()]
    out.append(("deep", ('{"format": "backprop-studio-weights", "weights": ' + "[" * 100_000
                         + "]" * 100_000 + "}").encode()))
    out.append(("huge-int-text", ('{"format": "backprop-studio-weights", "weights": {"e1": 1'
                                  + "0" * 5000 + "}}").encode()))
    out.append(("garbage", b"\xff\xfe\x00" * 100))
    out.append(("empty", b""))
    return out


def npy_bytes(shape_text: str, descr: str = "<f8", payload: bytes = b"\x00" * 8,
              version: tuple[int, int] = (1, 0)) -> bytes:
    """A .npy file whose header says anything we like (shape need not match the payload)."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}"
    header += " " * ((64 - (len(header) + 11) % 64) % 64) + "\n"
    if version == (1, 0):
        head = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header))
    else:
        head = b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header))
    return head + header.encode("latin-1") + payload


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def weight_npz_cases(edges: list[list[str]], biased: list[str]) -> list[tuple[str, bytes]]:
    def scalar(v: float) -> bytes:
        buf = io.BytesIO()
        np.save(buf, np.array(v))
        return buf.getvalue()

    good = {f"weight:{e[0]}.npy": scalar(0.5) for e in edges}
    good.update({f"bias:{b}.npy": scalar(0.1) for b in biased})
    e0 = f"weight:{edges[0][0]}.npy"
    out = [("good", _zip(good))]
    for label, member in {
        "8TB-header": npy_bytes("(1000000000000,)"),
        "8TB-2d": npy_bytes("(1000000, 1000000)"),
        "negative-shape": npy_bytes("(-1,)"),
        "object-dtype": npy_bytes("()", "|O"),
        "string-dtype": npy_bytes("()", "<U10", b"\x00" * 40),
        "truncated-value": npy_bytes("()", "<f8", b"\x00" * 3),
        "version-2": npy_bytes("()", "<f8", struct.pack("<d", 0.25), (2, 0)),
        "bad-magic": b"NOTNUMPY" + b"\x00" * 100,
        "bad-header": b"\x93NUMPY\x01\x00" + struct.pack("<H", 20) + b"{'descr': __import__}\n",
        "empty-member": b"",
        "nan": scalar(float("nan")),
        "complex": npy_bytes("()", "<c16", b"\x00" * 16),
        "big-endian": npy_bytes("()", ">f8", struct.pack(">d", 0.75)),
    }.items():
        out.append((label, _zip({**good, e0: member})))
    # A zip bomb: 64 MB of zeros under a weight name, about 64 kB on disk.
    out.append(("zip-bomb-weight", _zip({**good, e0: npy_bytes("(8000000,)", payload=bytes(64_000_000))},
                                        zipfile.ZIP_DEFLATED)))
    out.append(("zip-bomb-layer", _zip({**good, "layer1.W.npy": npy_bytes("(8000000,)",
                                                                          payload=bytes(64_000_000))},
                                       zipfile.ZIP_DEFLATED)))
    out.append(("many-members", _zip({**good, **{f"x{i}.npy": b"" for i in range(20_000)}})))
    for label, compression in (("bzip2", zipfile.ZIP_BZIP2), ("lzma", zipfile.ZIP_LZMA)):
        out.append((label, _zip(good, compression)))
    deflated = _zip(good, zipfile.ZIP_DEFLATED)
    out.append(("encrypted-flag", _patch_headers(deflated, flags=0x1)))
    out.append(("unknown-method", _patch_headers(deflated, method=99)))
    out.append(("corrupt-deflate", _corrupt_data(deflated)))
    out.append(("corrupt-bzip2", _corrupt_data(_zip(good, zipfile.ZIP_BZIP2))))
    out.append(("corrupt-lzma", _corrupt_data(_zip(good, zipfile.ZIP_LZMA))))
    plain = _zip(good)
    eocd = plain.rfind(b"PK\x05\x06")
    huge_cd = bytearray(plain)
    struct.pack_into("<I", huge_cd, eocd + 12, 0xFFFFFFF0)  # a 4 GB central directory
    out.append(("central-directory-4GB", bytes(huge_cd)))
    zip64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 10**9, 10**9, 8 * 2**40, 0)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, eocd, 1)
    out.append(("zip64-8TB-directory", plain[:eocd] + zip64 + locator + plain[eocd:]))
    out.append(("not-zip", b"PK\x03\x04" + b"\x00" * 200))
    out.append(("truncated-zip", _zip(good)[:-30]))
    out.append(("empty", b""))
    out.append(("missing-weight", _zip({k: v for k, v in good.items() if k != e0})))
    return out


def _patch_headers(data: bytes, flags: int = 0, method: int | None = None) -> bytes:
    """Set general-purpose flags and/or the compression method in every zip header."""
    out = bytearray(data)
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (at := out.find(signature, start)) >= 0:
            old = struct.unpack_from("<H", out, at + flag_at)[0]
            struct.pack_into("<H", out, at + flag_at, old | flags)
            if method is not None:
                struct.pack_into("<H", out, at + flag_at + 2, method)
            start = at + 4
    return bytes(out)


def _corrupt_data(data: bytes) -> bytes:
    """Scramble the compressed bytes of the first member, headers intact."""
    out = bytearray(data)
    name_len, extra_len = struct.unpack_from("<HH", out, 26)
    begin = 30 + name_len + extra_len
    size = struct.unpack_from("<I", out, 18)[0]
    for i in range(begin, begin + min(size, 40)):
        out[i] ^= 0x5A
    return bytes(out)
