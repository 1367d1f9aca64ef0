"""Meta commands (mg ms md ma mn me) with every 1.6.18 flag, byte for byte."""
import base64
import re

import pytest

from harness import stats_dict


def cas_of(conn, key):
    # u: do not mark the item fetched, so `me` and `h` are not disturbed.
    m = re.fullmatch(rb"HD c(\d+)\r\n", conn.roundtrip(b"mg %s c u\r\n" % key))
    assert m
    return int(m.group(1))


def flags17(n):
    return b" ".join([b"x"] * n)


# -- mn ----------------------------------------------------------------------------

def test_mn(conn):
    assert conn.call(b"mn\r\n") == b"MN\r\n"
    assert conn.call(b"mn extra tokens\r\n") == b"MN\r\n"
    conn.expect(b"version\r\n", b"VERSION 1.6.18\r\n")


# -- mg -----------------------------------------------------------------------------

def test_mg_all_return_flags(conn):
    conn.expect(b"ms foo 3 T0 F5\r\nbar\r\n", b"HD\r\n")
    cas = cas_of(conn, b"foo")
    conn.expect_re(b"mg foo s v f t c k O99 h l\r\n",
                   rb"VA 3 s3 f5 t-1 c%d kfoo O99 h0 l[01]\r\nbar\r\n" % cas)
    conn.expect(b"mg foo h\r\n", b"HD h1\r\n")


def test_mg_flags_come_back_in_request_order(conn):
    conn.expect(b"ms foo 3 F7\r\nbar\r\n", b"HD\r\n")
    cas = cas_of(conn, b"foo")
    conn.expect(b"mg foo O1 k c f s t v\r\n", b"VA 3 O1 kfoo c%d f7 s3 t-1\r\nbar\r\n" % cas)


def test_mg_hit_without_v_is_HD(conn):
    conn.expect(b"ms k 1\r\nx\r\n", b"HD\r\n")
    conn.expect(b"mg k\r\n", b"HD\r\n")
    conn.expect(b"mg k q\r\n", b"HD\r\n")      # q hides only EN
    conn.expect(b"mg k v q\r\n", b"VA 1\r\nx\r\n")


def test_mg_miss(conn):
    conn.expect(b"mg missing\r\n", b"EN\r\n")
    conn.expect(b"mg missing v\r\n", b"EN\r\n")
    conn.expect(b"mg missing k O1\r\n", b"EN kmissing O1\r\n")
    conn.expect(b"mg missing O1 k\r\n", b"EN O1 kmissing\r\n")
    conn.expect(b"mg missing q\r\n", b"")
    conn.expect(b"mg missing q k v\r\n", b"")


def test_mg_quiet_pipeline_with_mn(conn):
    conn.expect(b"ms a 1\r\n1\r\nms c 1\r\n3\r\n", b"HD\r\nHD\r\n")
    conn.send(b"mg a v q k\r\nmg b v q k\r\nmg c v q k\r\nmn\r\n")
    assert conn.recv_until(b"MN\r\n") == b"VA 1 ka\r\n1\r\nVA 1 kc\r\n3\r\nMN\r\n"


def test_mg_h_and_l_show_state_before_this_access(conn):
    conn.expect(b"ms k 1\r\nx\r\n", b"HD\r\n")
    conn.expect_re(b"mg k h l\r\n", rb"HD h0 l[01]\r\n")   # l: seconds, the clock may tick
    conn.expect(b"mg k h\r\n", b"HD h1\r\n")


def test_mg_u_does_not_mark_fetched(conn):
    conn.expect(b"ms k 1\r\nx\r\n", b"HD\r\n")
    conn.expect(b"mg k u h\r\n", b"HD h0\r\n")
    conn.expect(b"mg k v u\r\n", b"VA 1\r\nx\r\n")
    conn.expect_re(b"me k\r\n", rb"ME k exp=-1 la=[01] cas=%d fetch=no cls=1 size=\d+\r\n" % cas_of(conn, b"k"))


def test_mg_T_updates_ttl_in_flag_order(conn):
    conn.expect(b"ms k 1\r\nx\r\n", b"HD\r\n")
    conn.expect(b"mg k T30 t\r\n", b"HD t30\r\n")
    conn.expect_re(b"mg k t T40\r\n", rb"HD t(29|30)\r\n")    # t before T shows the old TTL
    conn.expect_re(b"mg k t\r\n", rb"HD t(39|40)\r\n")


def test_mg_T_does_not_change_cas(conn):
    conn.expect(b"ms k 1\r\nx\r\n", b"HD\r\n")
    before = cas_of(conn, b"k")
    conn.expect(b"mg k T30\r\n", b"HD\r\n")
    assert cas_of(conn, b"k") == before


def test_mg_base64_key(conn):
    conn.expect(b"ms foo 3\r\nbar\r\n", b"HD\r\n")
    # k echoes the key as the item was stored: plain here, despite b.
    conn.expect(b"mg Zm9v b k v\r\n", b"VA 3 kfoo\r\nbar\r\n")
    conn.expect(b"mg foo b\r\n", b"CLIENT_ERROR error decoding key\r\n")
    conn.expect(b"mg bWlzc2luZw== b k\r\n", b"EN kbWlzc2luZw== b\r\n")


def test_binary_key_is_remembered_per_item(conn):
    conn.expect(b"ms Zm9v 3 b\r\nbar\r\n", b"HD\r\n")
    conn.expect(b"mg foo k v\r\n", b"VA 3 kZm9v b\r\nbar\r\n")
    conn.expect(b"get foo\r\n", b"VALUE foo 0 3\r\nbar\r\nEND\r\n")


def test_binary_key_with_non_printable_bytes(conn):
    raw = b"\x00\x01\x02 \r\n"
    enc = base64.b64encode(raw)
    conn.expect(b"ms %s 1 b k\r\nz\r\n" % enc, b"HD k%s b\r\n" % enc)
    conn.expect(b"mg %s b k v s\r\n" % enc, b"VA 1 k%s b s1\r\nz\r\n" % enc)
    conn.expect(b"md %s b q\r\nmg %s b k v\r\n" % (enc, enc), b"EN k%s b\r\n" % enc)


def test_mg_vivify_win_sequence(conn):
    conn.expect(b"mg viv N30 t v\r\n", b"VA 0 t30 W\r\n\r\n")
    conn.expect_re(b"mg viv N30 t v\r\n", rb"VA 0 t(29|30) Z\r\n\r\n")
    conn.expect(b"mg viv v\r\n", b"VA 0 Z\r\n\r\n")
    conn.expect(b"ms viv 2 T60\r\nhi\r\n", b"HD\r\n")
    conn.expect(b"mg viv v N30\r\n", b"VA 2\r\nhi\r\n")


def test_mg_vivify_cas_is_stable_until_set(conn):
    reply = conn.roundtrip(b"mg viv N30 c\r\n")
    cas = re.fullmatch(rb"HD c(\d+) W\r\n", reply).group(1)
    conn.expect(b"mg viv c\r\n", b"HD c%s Z\r\n" % cas)


def test_mg_recache_win(conn):
    conn.expect(b"ms rc 1 T5\r\nx\r\n", b"HD\r\n")
    conn.expect(b"mg rc R30 v\r\n", b"VA 1 W\r\nx\r\n")
    conn.expect(b"mg rc R30 v\r\n", b"VA 1 Z\r\nx\r\n")
    conn.expect(b"mg rc v\r\n", b"VA 1 Z\r\nx\r\n")


def test_mg_recache_not_triggered_when_ttl_is_long(conn):
    conn.expect(b"ms rc 1 T100\r\nx\r\n", b"HD\r\n")
    conn.expect(b"mg rc R30 v\r\n", b"VA 1\r\nx\r\n")
    conn.expect(b"ms never 1\r\nx\r\n", b"HD\r\n")
    conn.expect(b"mg never R30 v\r\n", b"VA 1\r\nx\r\n")


def test_md_invalidate_then_stale_win(conn):
    conn.expect(b"ms st 1 T30\r\nx\r\n", b"HD\r\n")
    old = cas_of(conn, b"st")
    conn.expect(b"md st I\r\n", b"HD\r\n")
    reply = conn.roundtrip(b"mg st c t v\r\n")
    m = re.fullmatch(rb"VA 1 c(\d+) t(29|30) X W\r\nx\r\n", reply)
    assert m, reply
    assert int(m.group(1)) > old           # invalidation bumps the CAS
    conn.expect_re(b"mg st c t v\r\n", rb"VA 1 c%s t(29|30) Z X\r\nx\r\n" % m.group(1))
    conn.expect(b"ms st 1\r\ny\r\n", b"HD\r\n")
    conn.expect(b"mg st v\r\n", b"VA 1\r\ny\r\n")


def test_mg_errors(conn):
    conn.expect(b"ms k 1\r\nx\r\n", b"HD\r\n")
    conn.expect(b"mg k zz\r\n", b"CLIENT_ERROR invalid flag\r\n")
    conn.expect(b"mg k E5\r\n", b"CLIENT_ERROR invalid flag\r\n")
    conn.expect(b"mg k v v\r\n", b"CLIENT_ERROR duplicate flag\r\n")
    conn.expect(b"mg k Nabc\r\n", b"CLIENT_ERROR bad token in command line format\r\n")
    conn.expect(b"mg k Tabc\r\n", b"CLIENT_ERROR bad token in command line format\r\n")
    conn.expect(b"mg k Rabc\r\n", b"CLIENT_ERROR bad token in command line format\r\n")
    conn.expect(b"mg\r\n", b"ERROR\r\n")
    conn.expect(b"mg %s v\r\n" % (b"k" * 251), b"CLIENT_ERROR bad command line format\r\n")
    # Errors are sent even with q.
    conn.expect(b"mg k q zz\r\n", b"CLIENT_ERROR invalid flag\r\n")


def test_mg_opaque_length(conn):
    conn.expect(b"ms k 1\r\nx\r\n", b"HD\r\n")
    ok = b"O" + b"1" * 31
    conn.expect(b"mg k %s\r\n" % ok, b"HD %s\r\n" % ok)
    conn.expect(b"mg k %s1\r\n" % ok, b"CLIENT_ERROR opaque token too long\r\n")


def test_mg_flag_count_limit(conn):
    conn.expect(b"mg k %s\r\n" % flags17(17), b"CLIENT_ERROR invalid flag\r\n")
    conn.expect(b"mg k %s\r\n" % flags17(18), b"CLIENT_ERROR options flags are too long\r\n")


def test_mg_P_and_L_are_ignored(conn):
    conn.expect(b"ms k 1\r\nx\r\n", b"HD\r\n")
    conn.expect(b"mg k P L\r\n", b"HD\r\n")
    conn.expect(b"mg k Pfoo Lbar v\r\n", b"VA 1\r\nx\r\n")


def test_mg_counts_as_get(conn):
    conn.expect(b"ms k 1\r\nx\r\nmg k\r\nmg nope\r\n", b"HD\r\nHD\r\nEN\r\n")
    st = stats_dict(conn)
    assert (st["cmd_get"], st["get_hits"], st["get_misses"]) == ("2", "1", "1")


# -- ms -------------------------------------------------------------------------------

def test_ms_basic_and_flags(conn):
    conn.expect(b"ms k 3 F4294967295 T100\r\nabc\r\n", b"HD\r\n")
    conn.expect_re(b"mg k f t v\r\n", rb"VA 3 f4294967295 t(99|100)\r\nabc\r\n")
    conn.expect(b"get k\r\n", b"VALUE k 4294967295 3\r\nabc\r\nEND\r\n")
    conn.expect(b"ms k 3 F4294967296\r\nabc\r\n", b"HD\r\n")   # truncated to 0
    conn.expect(b"mg k f\r\n", b"HD f0\r\n")


def test_ms_returns_cas_key_opaque(conn):
    reply = conn.roundtrip(b"ms k 1 c k O5\r\nx\r\n")
    m = re.fullmatch(rb"HD c(\d+) kk O5\r\n", reply)
    assert m, reply
    assert cas_of(conn, b"k") == int(m.group(1))


def test_ms_modes(conn):
    conn.expect(b"ms mm 2 ME\r\nab\r\n", b"HD\r\n")
    conn.expect(b"ms mm 2 ME\r\ncd\r\n", b"NS\r\n")
    conn.expect(b"ms mm 1 MA\r\nz\r\n", b"HD\r\n")
    conn.expect(b"ms mm 1 MP\r\na\r\n", b"HD\r\n")
    conn.expect(b"mg mm v\r\n", b"VA 4\r\naabz\r\n")
    conn.expect(b"ms mm 1 MR\r\nr\r\n", b"HD\r\n")
    conn.expect(b"ms mm 1 MS\r\ns\r\n", b"HD\r\n")
    conn.expect(b"mg mm v\r\n", b"VA 1\r\ns\r\n")
    conn.expect(b"ms nope 1 MR\r\nz\r\n", b"NS\r\n")
    conn.expect(b"ms nope 1 MA\r\nz\r\n", b"NS\r\n")
    conn.expect(b"ms nope 1 MP\r\nz\r\n", b"NS\r\n")
    conn.expect(b"mg nope\r\n", b"EN\r\n")


def test_ms_mode_errors(conn):
    conn.expect(b"ms k 1\r\nx\r\n", b"HD\r\n")
    conn.expect(b"ms k 1 MX\r\ny\r\n", b"CLIENT_ERROR invalid mode for ms M token\r\n")
    conn.expect(b"ms k 1 Ms\r\ny\r\n", b"CLIENT_ERROR invalid mode for ms M token\r\n")
    conn.expect(b"ms k 1 M\r\ny\r\n", b"CLIENT_ERROR incorrect length for M token\r\n")
    conn.expect(b"ms k 1 MEE\r\ny\r\n", b"CLIENT_ERROR incorrect length for M token\r\n")
    conn.expect(b"mg k v\r\n", b"VA 1\r\nx\r\n")


def test_ms_append_keeps_flags_and_ttl(conn):
    conn.expect(b"ms k 1 F3 T100\r\na\r\n", b"HD\r\n")
    conn.expect(b"ms k 1 MA F9 T0\r\nb\r\n", b"HD\r\n")
    reply = conn.roundtrip(b"mg k f t v\r\n")
    assert re.fullmatch(rb"VA 2 f3 t(99|100)\r\nab\r\n", reply), reply


def test_ms_cas(conn):
    reply = conn.roundtrip(b"ms c1 1 c\r\na\r\n")
    cas = int(re.fullmatch(rb"HD c(\d+)\r\n", reply).group(1))
    conn.expect(b"ms c1 1 C%d c\r\nb\r\n" % (cas + 100), b"EX c0\r\n")
    reply = conn.roundtrip(b"ms c1 1 C%d c\r\nb\r\n" % cas)
    new = int(re.fullmatch(rb"HD c(\d+)\r\n", reply).group(1))
    assert new > cas
    conn.expect(b"ms nokey 1 C5\r\nz\r\n", b"NF\r\n")
    conn.expect(b"mg c1 v\r\n", b"VA 1\r\nb\r\n")


def test_ms_invalidate_accepts_lower_cas_and_marks_stale(conn):
    old = int(re.fullmatch(rb"HD c(\d+)\r\n", conn.roundtrip(b"ms c2 1 c\r\na\r\n")).group(1))
    conn.expect(b"ms c2 1\r\na\r\n", b"HD\r\n")
    conn.expect(b"ms c2 1 C%d\r\nb\r\n" % old, b"EX\r\n")
    conn.expect(b"ms c2 1 C%d I\r\nb\r\n" % old, b"HD\r\n")
    reply = conn.roundtrip(b"mg c2 v c\r\n")
    assert re.fullmatch(rb"VA 1 c\d+ X W\r\nb\r\n", reply), reply
    # Without C, I is a plain set.
    conn.expect(b"ms c3 1 I\r\ny\r\n", b"HD\r\n")
    conn.expect(b"mg c3 v\r\n", b"VA 1\r\ny\r\n")


def test_ms_quiet(conn):
    conn.expect(b"ms q1 1 q\r\nz\r\n", b"")
    conn.expect(b"ms q1 1 q O1 k\r\nz\r\n", b"")
    conn.expect(b"ms q1 1 q ME\r\nz\r\n", b"NS\r\n")    # only HD is hidden
    conn.expect(b"ms q1 1 q C1\r\nz\r\n", b"EX\r\n")
    conn.expect(b"ms q1 1 q k zz\r\nz\r\n", b"CLIENT_ERROR invalid flag\r\n")


def test_ms_base64_key(conn):
    conn.expect(b"ms YzI= 1 k O5 b\r\nz\r\n", b"HD kYzI= b O5\r\n")
    conn.expect(b"get c2\r\n", b"VALUE c2 0 1\r\nz\r\nEND\r\n")
    conn.expect(b"ms c2 1 k O5 b\r\nz\r\n", b"CLIENT_ERROR error decoding key\r\n")


def test_ms_errors_after_datalen_swallow_the_block(conn):
    conn.expect(b"ms k 1 S1\r\nz\r\n", b"CLIENT_ERROR invalid flag\r\n")
    conn.expect(b"ms k 1 c c\r\nz\r\n", b"CLIENT_ERROR duplicate flag\r\n")
    conn.expect(b"ms k 1 F-1\r\nz\r\n", b"CLIENT_ERROR bad command line format\r\n")
    conn.expect(b"ms k 1 Fabc\r\nz\r\n", b"CLIENT_ERROR bad command line format\r\n")
    conn.expect(b"ms k 1 Tabc\r\nz\r\n", b"CLIENT_ERROR bad token in command line format\r\n")
    conn.expect(b"ms k 1 C\r\nz\r\n", b"CLIENT_ERROR bad token in command line format\r\n")
    conn.expect(b"ms k 1 Cabc\r\nz\r\n", b"CLIENT_ERROR bad token in command line format\r\n")
    conn.expect(b"ms k 1 %s\r\nz\r\n" % (b"O" + b"1" * 32),
                b"CLIENT_ERROR opaque token too long\r\n")
    conn.expect(b"mg k\r\n", b"EN\r\n")


def test_ms_errors_before_datalen_do_not_swallow(conn):
    conn.expect(b"ms\r\n", b"ERROR\r\n")
    conn.expect(b"ms k\r\n", b"CLIENT_ERROR bad command line format\r\n")
    conn.expect(b"ms k abc\r\nversion\r\n", b"CLIENT_ERROR bad command line format\r\nVERSION 1.6.18\r\n")
    conn.expect(b"ms k -1\r\nversion\r\n", b"CLIENT_ERROR bad command line format\r\nVERSION 1.6.18\r\n")
    conn.expect(b"ms %s 1\r\nz\r\n" % (b"k" * 251), b"CLIENT_ERROR bad command line format\r\nERROR\r\n")


def test_ms_flag_count_limit(conn):
    conn.expect(b"ms k 1 %s\r\nz\r\n" % flags17(16), b"CLIENT_ERROR invalid flag\r\n")
    # Too many tokens: rejected before the length is trusted, so no swallow.
    conn.expect(b"ms k 1 %s\r\nz\r\n" % flags17(17),
                b"CLIENT_ERROR options flags too long\r\nERROR\r\n")


def test_ms_bad_data_chunk(conn):
    conn.expect(b"ms k 1\r\nxy\r\n", b"CLIENT_ERROR bad data chunk\r\nERROR\r\n")


def test_ms_too_large_swallows_and_deletes(conn):
    conn.expect(b"ms k 1\r\nx\r\n", b"HD\r\n")
    n = 2 * 1024 * 1024
    conn.expect(b"ms k %d q O5 k\r\n%s\r\n" % (n, b"x" * n),
                b"SERVER_ERROR object too large for cache\r\n")
    conn.expect(b"mg k\r\n", b"EN\r\n")


# -- md ----------------------------------------------------------------------------------

def test_md(conn):
    conn.expect(b"ms d 1\r\na\r\n", b"HD\r\n")
    conn.expect(b"md d\r\n", b"HD\r\n")
    conn.expect(b"md d\r\n", b"NF\r\n")
    conn.expect(b"md d k O3\r\n", b"NF kd O3\r\n")
    conn.expect(b"ms d 1\r\na\r\n", b"HD\r\n")
    conn.expect(b"md d k O3\r\n", b"HD kd O3\r\n")


def test_md_quiet(conn):
    conn.expect(b"ms d 1\r\na\r\n", b"HD\r\n")
    conn.expect(b"md d q\r\n", b"")
    conn.expect(b"md d q\r\n", b"NF\r\n")


def test_md_cas(conn):
    cas = int(re.fullmatch(rb"HD c(\d+)\r\n", conn.roundtrip(b"ms d 1 c\r\na\r\n")).group(1))
    conn.expect(b"md d C%d\r\n" % (cas + 1), b"EX\r\n")
    conn.expect(b"md d C%d q\r\n" % (cas + 1), b"EX\r\n")
    conn.expect(b"md d C%d\r\n" % cas, b"HD\r\n")
    conn.expect(b"mg d\r\n", b"EN\r\n")


def test_md_invalidate_with_ttl(conn):
    conn.expect(b"ms d 1\r\na\r\n", b"HD\r\n")
    conn.expect(b"md d I T30\r\n", b"HD\r\n")
    conn.expect_re(b"mg d t v\r\n", rb"VA 1 t(29|30) X W\r\na\r\n")
    conn.expect(b"md nokey I T30\r\n", b"NF\r\n")


def test_md_T_without_I_just_deletes(conn):
    conn.expect(b"ms d 1\r\na\r\n", b"HD\r\n")
    conn.expect(b"md d T30\r\n", b"HD\r\n")
    conn.expect(b"mg d\r\n", b"EN\r\n")


def test_md_base64(conn):
    conn.expect(b"ms foo 1\r\na\r\n", b"HD\r\n")
    conn.expect(b"md Zm9v b k\r\n", b"HD kZm9v b\r\n")


def test_md_errors(conn):
    conn.expect(b"ms d 1\r\na\r\n", b"HD\r\n")
    for bad in (b"zz", b"a", b"C", b"Cx", b"Tx I", b"q q"):
        conn.expect(b"md d %s\r\n" % bad, b"CLIENT_ERROR invalid or duplicate flag\r\n")
    conn.expect(b"md\r\n", b"ERROR\r\n")
    conn.expect(b"md d %s\r\n" % flags17(17), b"CLIENT_ERROR invalid or duplicate flag\r\n")
    conn.expect(b"md d %s\r\n" % flags17(18), b"CLIENT_ERROR options flags too long\r\n")
    conn.expect(b"mg d v\r\n", b"VA 1\r\na\r\n")


def test_md_ignores_flags_it_does_not_use(conn):
    for flag in (b"c", b"v", b"t", b"s"):
        conn.expect(b"ms d 1\r\na\r\n", b"HD\r\n")
        conn.expect(b"md d %s\r\n" % flag, b"HD\r\n")


# -- ma -----------------------------------------------------------------------------------

def test_ma_defaults_and_modes(conn):
    conn.expect(b"ma cnt\r\n", b"NF\r\n")
    conn.expect(b"ma cnt N0 J10 v\r\n", b"VA 2\r\n10\r\n")    # created with J, no delta
    conn.expect(b"ma cnt v\r\n", b"VA 2\r\n11\r\n")
    conn.expect(b"ma cnt D5 v\r\n", b"VA 2\r\n16\r\n")
    conn.expect(b"ma cnt MD D100 v\r\n", b"VA 1\r\n0\r\n")     # decr floors at 0
    conn.expect(b"ma cnt M- v\r\n", b"VA 1\r\n0\r\n")
    conn.expect(b"ma cnt M+ D3 v\r\n", b"VA 1\r\n3\r\n")
    conn.expect(b"ma cnt MI v\r\n", b"VA 1\r\n4\r\n")
    conn.expect(b"ma cnt\r\n", b"HD\r\n")
    conn.expect(b"get cnt\r\n", b"VALUE cnt 0 2\r\n5 \r\nEND\r\n")


def test_ma_return_flags(conn):
    conn.expect(b"ms cnt 1 T100\r\n5\r\n", b"HD\r\n")
    reply = conn.roundtrip(b"ma cnt t c v k O9\r\n")
    m = re.fullmatch(rb"VA 1 t(99|100) c(\d+) kcnt O9\r\n6\r\n", reply)
    assert m, reply
    assert cas_of(conn, b"cnt") == int(m.group(2))
    conn.expect(b"ma cnt T30 t v\r\n", b"VA 1 t30\r\n7\r\n")


def test_ma_wraps_and_non_numeric(conn):
    conn.expect(b"ms wrap 20\r\n18446744073709551615\r\n", b"HD\r\n")
    conn.expect(b"ma wrap D2 v\r\n", b"VA 1\r\n1\r\n")
    conn.expect(b"ms str 3\r\nabc\r\n", b"HD\r\n")
    conn.expect(b"ma str\r\n", b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")


def test_ma_quiet(conn):
    conn.expect(b"ms cnt 1\r\n5\r\n", b"HD\r\n")
    conn.expect(b"ma cnt q\r\n", b"")
    # 1.6.18 also hides a VA reply under q.
    conn.expect(b"ma cnt q v\r\n", b"")
    conn.expect(b"ma nokey q\r\n", b"NF\r\n")
    conn.expect(b"ma cnt v\r\n", b"VA 1\r\n8\r\n")


def test_ma_miss_reflects_key_and_opaque(conn):
    conn.expect(b"ma nokey k O1\r\n", b"NF knokey O1\r\n")


def test_ma_cas(conn):
    conn.expect(b"ms cnt 1\r\n5\r\n", b"HD\r\n")
    cas = cas_of(conn, b"cnt")
    conn.expect(b"ma cnt C%d\r\n" % (cas + 1), b"EX\r\n")
    conn.expect(b"ma cnt C%d v\r\n" % cas, b"VA 1\r\n6\r\n")


def test_ma_vivify_with_ttl(conn):
    conn.expect(b"ma new N100 J42 v t\r\n", b"VA 2 t100\r\n42\r\n")
    conn.expect(b"ma new N100 J42 v\r\n", b"VA 2\r\n43\r\n")


def test_ma_base64(conn):
    conn.expect(b"ms cnt 1\r\n7\r\n", b"HD\r\n")
    conn.expect(b"ma Y250 b k v\r\n", b"VA 1 kY250 b\r\n8\r\n")
    conn.expect(b"ma cnt b\r\n", b"CLIENT_ERROR invalid or duplicate flag\r\n")


def test_ma_errors(conn):
    conn.expect(b"ms cnt 1\r\n5\r\n", b"HD\r\n")
    for bad in (b"Dabc", b"D-1", b"N0 Jabc", b"zz", b"v v", b"Tx"):
        conn.expect(b"ma cnt %s\r\n" % bad, b"CLIENT_ERROR invalid or duplicate flag\r\n")
    conn.expect(b"ma cnt Mx\r\n", b"CLIENT_ERROR invalid mode for ma M token\r\n")
    conn.expect(b"ma cnt Mx v\r\n", b"CLIENT_ERROR invalid mode for ma M token\r\n")
    conn.expect(b"ma\r\n", b"ERROR\r\n")
    conn.expect(b"ma cnt %s\r\n" % flags17(18), b"CLIENT_ERROR options flags too long\r\n")
    conn.expect(b"mg cnt v\r\n", b"VA 1\r\n5\r\n")


# -- me -----------------------------------------------------------------------------------

def test_me(conn):
    conn.expect(b"ms e1 3\r\nabc\r\n", b"HD\r\n")
    cas = cas_of(conn, b"e1")
    conn.expect_re(b"me e1\r\n", rb"ME e1 exp=-1 la=[01] cas=%d fetch=no cls=1 size=\d+\r\n" % cas)
    conn.expect(b"mg e1 v\r\n", b"VA 3\r\nabc\r\n")
    conn.expect_re(b"me e1\r\n", rb"ME e1 exp=-1 la=[01] cas=%d fetch=yes cls=1 size=\d+\r\n" % cas)
    conn.expect_re(b"me e1 extra\r\n",
                   rb"ME e1 exp=-1 la=[01] cas=%d fetch=yes cls=1 size=\d+\r\n" % cas)


def test_me_exp_is_printed_negated(conn):
    # memcached 1.6.18 prints current_time - exptime: a 100 s TTL shows as -100.
    conn.expect(b"ms e1 3 T100\r\nabc\r\n", b"HD\r\n")
    reply = conn.roundtrip(b"me e1\r\n")
    assert re.fullmatch(rb"ME e1 exp=-(99|100) la=[01] cas=\d+ fetch=no cls=1 size=\d+\r\n", reply), reply


def test_me_miss_base64_and_errors(conn):
    conn.expect(b"me nokey\r\n", b"EN\r\n")
    conn.expect(b"ms e1 1\r\nz\r\n", b"HD\r\n")
    cas = cas_of(conn, b"e1")
    conn.expect_re(b"me ZTE= b\r\n", rb"ME e1 exp=-1 la=[01] cas=%d fetch=no cls=1 size=\d+\r\n" % cas)
    conn.expect(b"me\r\n", b"CLIENT_ERROR bad command line format\r\n")
    conn.expect(b"me %s\r\n" % (b"k" * 251), b"CLIENT_ERROR bad command line format\r\n")


def test_me_binary_key_printed_in_base64(conn):
    conn.expect(b"ms AAEC 1 b\r\nz\r\n", b"HD\r\n")
    reply = conn.roundtrip(b"me AAEC b\r\n")
    assert re.fullmatch(rb"ME AAEC exp=-1 la=[01] cas=\d+ fetch=no cls=1 size=\d+\r\n", reply), reply


def test_meta_command_stats(conn):
    conn.expect(b"ms k 1\r\nx\r\nmg k\r\nmd k q\r\nma k\r\n", b"HD\r\nHD\r\nNF\r\n")
    assert conn.call(b"mn\r\n") == b"MN\r\n"
    reply = conn.roundtrip(b"ms k 1\r\nx\r\nme k\r\n")
    assert re.fullmatch(rb"HD\r\nME k exp=-1 la=[01] cas=\d+ fetch=no cls=1 size=\d+\r\n", reply)
    st = stats_dict(conn)
    # Only `me` counts as cmd_meta in 1.6.18; mg/ms/md/ma count as get/set/...
    assert st["cmd_meta"] == "1"
    assert (st["cmd_get"], st["cmd_set"], st["delete_hits"], st["incr_misses"]) == ("1", "2", "1", "1")
