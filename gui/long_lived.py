"""Keeping the garbage collector's pauses short on big documents.

CPython's collector walks every tracked object of its oldest generation when it runs one
of its full passes: with a 784-64-10 net open (about 220k objects) each pass took 85-117 ms
of the window's thread, nine of them in 20 s of training and editing
(tests/gui/test_big_net.py), each a stall the user feels. What is alive just after a
document is loaded (the window's widgets, the document's neurons and edges) will mostly live
as long as that document, so it is moved out of the collector's sight (`gc.freeze`). When the
next document comes, everything is given back (`gc.unfreeze`) and one full pass frees what the
old document left in cycles before the rest is frozen again (freezing at once would freeze
that garbage too, for good). That pass is part of opening: 0.1-0.3 s for the big net, once.
Objects freed by their reference count (most of them) are freed at once, frozen or not."""
from __future__ import annotations

import gc


def document_settled() -> None:
    """After start-up and after a document replaced the last one (Open, New, a template)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
