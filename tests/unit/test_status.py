"""tools/status.py's pure parts: `ndb_mgm -e show` parsed, the DataMemory bar, the text."""

from __future__ import annotations

from tools.status import Node, Status, bar, parse_show, render_text

# ndb_mgm -e show on the test bed (NDB 9.7.2), data node 2 killed.
SHOW = """Connected to Management Server at: 127.0.6.1:1186
Cluster Configuration
---------------------
[ndbd(NDB)]\t2 node(s)
id=1\t@127.0.0.1  (mysql-9.7.2 ndb-9.7.2, Nodegroup: 0, *)
id=2 (not connected, accepting connect from 127.0.6.3)

[ndb_mgmd(MGM)]\t1 node(s)
id=145\t@127.0.6.1  (mysql-9.7.2 ndb-9.7.2)

[mysqld(API)]\t3 node(s)
id=147\t@127.0.6.4  (mysql-9.7.2 ndb-9.7.2)
id=148 (not connected, accepting connect from 127.0.6.5)
id=149 (not connected, accepting connect from any host)
"""


def test_show_is_parsed_with_state_address_version_and_node_group() -> None:
    nodes = parse_show(SHOW)
    assert [(n.kind, n.node_id) for n in nodes] == [
        ("NDB", 1), ("NDB", 2), ("MGM", 145), ("API", 147), ("API", 148), ("API", 149)]
    assert nodes[0] == Node(1, "NDB", "127.0.0.1", "9.7.2", 0, "connected")
    assert nodes[1] == Node(2, "NDB", None, None, None, "not connected")
    assert nodes[3].version == "9.7.2" and nodes[3].node_group is None


def test_bar_shows_the_share_and_the_sizes() -> None:
    assert bar(3 << 28, 1 << 30, width=10) == \
        "[########..]  75% (768.0 MiB of 1,024.0 MiB)"
    assert bar(0, 0, width=4) == "[....]   0% (0.0 MiB of 0.0 MiB)"


def test_text_lists_what_could_not_be_read() -> None:
    status = Status(time="t", nodes=parse_show(SHOW), problems=["no ndbinfo: refused"])
    text = render_text(status, "status")
    assert "Not shown:\n  no ndbinfo: refused" in text
    assert "Last backup: none" in text
    assert "Cluster log: no ALERT events" in text
