#!/usr/bin/env python3
"""QA of the type checker's first diagnostic (SPEC 3.5-3.7, 3.10, 2.6): random untyped terms
over fn (variable and pair parameters), application, let/let fun, if, case on lists and on
option, tuples, list literals, ::, +, +., ^, =, andalso, orelse, not, ~, annotations and the
option constructors are folded (2.6) and inferred by a Python model (Algorithm W in the order
of 3.5.2, the value restriction, equality variables, the innermost failing pair, the occurs
check, the ~ rule, type printing of 3.10), and each term's model verdict, whole message and
position included, is compared with `hiko check`'s first line.

Choices the SPEC leaves open follow hiko: applying a non-function reports "expected A -> 'r,
found F" at the function; binding an equality variable reports a function type met before the
variable itself (equality before occurs) in one left-to-right traversal; an equality error met
while unifying the right operand of = is reported at the comparison with that operand's type.

With --ext the terms also use `datatype 'a tree = Leaf | Node of 'a tree * 'a * 'a tree` (Node
applied, bare, and as a pattern with nested tuple, literal, Leaf, Node and as-patterns), case on
trees, `fun` with several clauses and `effect Ask of Int` with perform, handle and resume
(SPEC 3.3, 3.8, 3.9). Every generated match is exhaustive and free of redundant clauses, so
3.8.3 never speaks first. Choices the SPEC leaves open follow hiko there too: a pattern is
inferred bottom-up, a constructor's payload pattern unified with the payload type at the
payload pattern (as an application), then the scrutinee's type with the first pattern's; the
clauses of a `fun` are typed as `fn x => case x of ...` (the bodies' types first against later,
the result type against the function's last, reported at the `fun`).

Usage: qa22_typecheck_differential.py BUILD/hiko [--ext] [SEED [COUNT]]
"""
import os
import random
import subprocess
import sys
import tempfile

class TV:
    def __init__(self, level, eq=False): self.ref = None; self.level = level; self.eq = eq
class TC:
    def __init__(self, name, args=()): self.name = name; self.args = list(args)
class TF:
    def __init__(self, a, b): self.a = a; self.b = b
class TT:
    def __init__(self, items): self.items = list(items)

class TypeErr(Exception):
    def __init__(self, msg, pos): self.msg = msg; self.pos = pos

def res(t):
    while isinstance(t, TV) and t.ref is not None: t = t.ref
    return t

def show_types(ts):
    names = {}
    def nm(v):
        if v not in names:
            i = len(names); base = chr(ord('a') + i % 26); suf = "" if i < 26 else str(i // 26)
            names[v] = base + suf
        return ("''" if v.eq else "'") + names[v]
    def go(t, ctx):
        t = res(t)
        if isinstance(t, TV): return nm(t)
        if isinstance(t, TC):
            if not t.args: return t.name
            a = go(t.args[0], 'arg')
            tt = res(t.args[0])
            if isinstance(tt, (TF, TT)) or (isinstance(tt, TC) and tt.args): a = "(" + a + ")"
            return a + " " + t.name
        if isinstance(t, TF):
            a = go(t.a, 'fa'); 
            if isinstance(res(t.a), TF): a = "(" + a + ")"
            return a + " -> " + go(t.b, 'fr')
        if isinstance(t, TT):
            parts = []
            for x in t.items:
                s = go(x, 'tup')
                if isinstance(res(x), (TF, TT)): s = "(" + s + ")"
                parts.append(s)
            return " * ".join(parts)
    return [go(t, 'top') for t in ts]

def occurs(v, t):
    t = res(t)
    if t is v: return True
    if isinstance(t, TC): return any(occurs(v, a) for a in t.args)
    if isinstance(t, TF): return occurs(v, t.a) or occurs(v, t.b)
    if isinstance(t, TT): return any(occurs(v, a) for a in t.items)
    return False

def admits_eq(t):
    t = res(t)
    if isinstance(t, TV): return True
    if isinstance(t, TF): return False
    if isinstance(t, TC): return all(admits_eq(a) for a in t.args)
    if isinstance(t, TT): return all(admits_eq(a) for a in t.items)

def make_eq(t):
    t = res(t)
    if isinstance(t, TV): t.eq = True
    elif isinstance(t, TC): [make_eq(a) for a in t.args]
    elif isinstance(t, TT): [make_eq(a) for a in t.items]

def adjust_levels(v, t):
    t = res(t)
    if isinstance(t, TV): t.level = min(t.level, v.level)
    elif isinstance(t, TC): [adjust_levels(v, a) for a in t.args]
    elif isinstance(t, TF): adjust_levels(v, t.a); adjust_levels(v, t.b)
    elif isinstance(t, TT): [adjust_levels(v, a) for a in t.items]

def first_problem(v, t):
    # one pre-order, left-to-right traversal: the variable itself (occurs) or, binding an
    # equality variable, a function type (equality), whichever comes first
    t = res(t)
    if t is v: return 'occurs'
    if isinstance(t, TF): return 'eq' if v.eq else (first_problem(v, t.a) or first_problem(v, t.b))
    if isinstance(t, TC): 
        for a in t.args:
            r = first_problem(v, a)
            if r: return r
    if isinstance(t, TT):
        for a in t.items:
            r = first_problem(v, a)
            if r: return r
    return None

def bind(v, t, pos):
    pr = first_problem(v, t) if res(t) is not v else None
    if pr == 'occurs': raise TypeErr("infinite type (occurs check failed)", pos)
    if pr == 'eq': raise TypeErr("= and <> require equality types, found " + show_types([t])[0], pos)
    if v.eq: make_eq(t)
    adjust_levels(v, t)
    v.ref = t

def unify(exp, found, pos):
    def mism(a, b):
        sa, sb = show_types([a, b])
        raise TypeErr("type mismatch: expected %s, found %s" % (sa, sb), pos)
    def go(a, b):
        a = res(a); b = res(b)
        if a is b: return
        if isinstance(a, TV) and isinstance(b, TV):
            if a.eq or b.eq: a.eq = b.eq = True
            adjust_levels(a, b); adjust_levels(b, a)
            a.ref = b; return
        if isinstance(a, TV): bind(a, b, pos); return
        if isinstance(b, TV): bind(b, a, pos); return
        if isinstance(a, TC) and isinstance(b, TC) and a.name == b.name and len(a.args) == len(b.args):
            for x, y in zip(a.args, b.args): go(x, y)
            return
        if isinstance(a, TF) and isinstance(b, TF):
            go(a.a, b.a); go(a.b, b.b); return
        if isinstance(a, TT) and isinstance(b, TT) and len(a.items) == len(b.items):
            for x, y in zip(a.items, b.items): go(x, y)
            return
        mism(a, b)
    go(exp, found)

INT = lambda: TC("Int"); BOOL = lambda: TC("Bool"); STR = lambda: TC("String")
def LIST(t): return TC("list", [t])
def TREE(t): return TC("tree", [t])

class Scheme:
    def __init__(self, t, qs): self.t = t; self.qs = qs

def generalize(t, level):
    qs = []
    def go(t):
        t = res(t)
        if isinstance(t, TV):
            if t.level > level and t not in qs: qs.append(t)
        elif isinstance(t, TC): [go(a) for a in t.args]
        elif isinstance(t, TF): go(t.a); go(t.b)
        elif isinstance(t, TT): [go(a) for a in t.items]
    go(t)
    return Scheme(t, qs)

def lower(t, level):
    t = res(t)
    if isinstance(t, TV): t.level = min(t.level, level)
    elif isinstance(t, TC): [lower(a, level) for a in t.args]
    elif isinstance(t, TF): lower(t.a, level); lower(t.b, level)
    elif isinstance(t, TT): [lower(a, level) for a in t.items]

def instantiate(s, level):
    m = {q: TV(level, q.eq) for q in s.qs}
    def go(t):
        t = res(t)
        if isinstance(t, TV): return m.get(t, t)
        if isinstance(t, TC): return TC(t.name, [go(a) for a in t.args])
        if isinstance(t, TF): return TF(go(t.a), go(t.b))
        if isinstance(t, TT): return TT([go(a) for a in t.items])
    return go(s.t)

def is_value(e):
    k = e[0]
    if k in ('int', 'bool', 'str', 'var', 'fn', 'nil'): return True
    if k == 'tup': return all(is_value(x) for x in e[2])
    if k in ('float', 'none', 'fntup'): return True
    if k == 'some': return is_value(e[2])
    if k == 'annot': return is_value(e[2])
    if k == 'list': return all(is_value(x) for x in e[2])
    if k == 'cons': return is_value(e[2]) and is_value(e[3])
    if k in ('leaf', 'nodefn'): return True
    if k == 'node': return is_value(e[2])
    return False

# expression nodes: (kind, pos, ...)
def infer(e, env, level):
    k = e[0]; pos = e[1]
    if k == 'int': return INT()
    if k == 'bool': return BOOL()
    if k == 'str': return STR()
    if k == 'nil': return LIST(TV(level))
    if k == 'var':
        s = env.get(e[2])
        if s is None: raise TypeErr("unbound variable: " + e[2], pos)
        return instantiate(s, level)
    if k == 'fn':
        a = TV(level); env2 = dict(env); env2[e[2]] = Scheme(a, [])
        return TF(a, infer(e[3], env2, level))
    if k == 'app':
        tf = infer(e[2], env, level); ta = infer(e[3], env, level)
        r = res(tf)
        if isinstance(r, TF):
            unify(r.a, ta, e[3][1]); return r.b
        out = TV(level)
        unify(TF(ta, out), r, e[2][1]); return out
    if k == 'tup': return TT([infer(x, env, level) for x in e[2]])
    if k == 'list':
        first = None
        for x in e[2]:
            t = infer(x, env, level)
            if first is None: first = t
            else: unify(first, t, x[1])
        return LIST(first)
    if k == 'cons':
        tl = infer(e[2], env, level); tr = infer(e[3], env, level)
        a = TV(level)
        unify(a, tl, e[2][1]); unify(LIST(a), tr, e[3][1]); return LIST(a)
    if k in ('+', '^'):
        tl = infer(e[2], env, level); tr = infer(e[3], env, level)
        t = INT() if k == '+' else STR()
        unify(t, tl, e[2][1]); unify(t, tr, e[3][1]); return t
    if k == '=':
        tl = infer(e[2], env, level); tr = infer(e[3], env, level)
        a = TV(level, True)
        unify(a, tl, e[1])
        try:
            unify(a, tr, e[3][1])
        except TypeErr as ex:
            if ex.msg.startswith("= and <>"):
                ex.pos = e[1]
                ex.msg = "= and <> require equality types, found " + show_types([tr])[0]
            raise
        return BOOL()
    if k == 'if':
        tc = infer(e[2], env, level); unify(BOOL(), tc, e[2][1])
        t1 = infer(e[3], env, level); t2 = infer(e[4], env, level)
        unify(t1, t2, e[4][1]); return t1
    if k == 'let':   # let val x = e1 in e2 end
        t1 = infer(e[3], env, level + 1)
        env2 = dict(env)
        if is_value(e[3]): env2[e[2]] = generalize(t1, level)
        else:
            lower(t1, level); env2[e[2]] = Scheme(t1, [])
        return infer(e[4], env2, level)
    if k == 'letfun':  # let fun f x = e1 in e2 end
        a = TV(level + 1); b = TV(level + 1)
        env1 = dict(env); env1[e[2]] = Scheme(TF(a, b), []); env1[e[3]] = Scheme(a, [])
        tb = infer(e[4], env1, level + 1)
        unify(b, tb, e[4][1])
        env2 = dict(env); env2[e[2]] = generalize(TF(a, b), level)
        return infer(e[5], env2, level)
    if k == 'case':  # case e of [] => e1 | x :: y => e2
        ts = infer(e[2], env, level)
        pt1 = LIST(TV(level)); unify(ts, pt1, e[3])   # scrutinee vs first pattern
        t1 = infer(e[4], env, level)
        h = TV(level); pt2 = LIST(h)
        unify(pt1, pt2, e[5])
        env2 = dict(env); env2[e[6]] = Scheme(h, []); env2[e[7]] = Scheme(LIST(h), [])
        t2 = infer(e[8], env2, level)
        unify(t1, t2, e[8][1]); return t1
    if k == 'andalso':
        ta = infer(e[2], env, level); unify(BOOL(), ta, e[2][1])
        tb = infer(e[3], env, level); unify(tb, BOOL(), e[3][1]); return tb
    if k == 'orelse':
        ta = infer(e[2], env, level); unify(BOOL(), ta, e[2][1])
        tb = infer(e[3], env, level); unify(BOOL(), tb, e[3][1]); return BOOL()
    if k == 'not':
        ta = infer(e[2], env, level); unify(BOOL(), ta, e[2][1]); return BOOL()
    if k == 'neg':
        ta = infer(e[2], env, level); r = res(ta)
        if isinstance(r, TV): raise TypeErr("~ requires Int or Float, but type is unconstrained", e[1])
        if isinstance(r, TC) and r.name in ("Int", "Float") and not r.args: return r
        raise TypeErr("~ requires Int or Float, found " + show_types([r])[0], e[1])
    if k == 'fadd':
        tl = infer(e[2], env, level); tr = infer(e[3], env, level)
        unify(TC("Float"), tl, e[2][1]); unify(TC("Float"), tr, e[3][1]); return TC("Float")
    if k == 'float': return TC("Float")
    if k == 'annot':
        te = infer(e[2], env, level)
        m = {}
        def mk(d):
            if d[0] == 'v':
                if d[1] not in m: m[d[1]] = TV(level)
                return m[d[1]]
            if d[0] == 'c': return TC(d[1], [mk(x) for x in d[2]])
            if d[0] == 'f': return TF(mk(d[1]), mk(d[2]))
            if d[0] == 't': return TT([mk(x) for x in d[1]])
        unify(mk(e[3]), te, e[2][1]); return res(te)
    if k == 'some':
        ta = infer(e[2], env, level); return TC("option", [ta])
    if k == 'none': return TC("option", [TV(level)])
    if k == 'caseopt':  # case s of None => e1 | Some x => e2
        ts = infer(e[2], env, level)
        unify(ts, TC("option", [TV(level)]), e[3])
        t1 = infer(e[4], env, level)
        h = TV(level); unify(ts, TC("option", [h]), e[5])
        env2 = dict(env); env2[e[6]] = Scheme(h, [])
        t2 = infer(e[7], env2, level)
        unify(t1, t2, e[7][1]); return t1
    if k == 'fntup':
        a = TV(level); b = TV(level); env2 = dict(env); env2[e[2]] = Scheme(a, []); env2[e[3]] = Scheme(b, [])
        return TF(TT([a, b]), infer(e[4], env2, level))
    if k == 'leaf': return TREE(TV(level))
    if k == 'nodefn': a = TV(level); return TF(TT([TREE(a), a, TREE(a)]), TREE(a))
    if k == 'node':   # Node applied to a tuple: the application rule, parameter vs argument
        a = TV(level); ta = infer(e[2], env, level)
        unify(TT([TREE(a), a, TREE(a)]), ta, e[2][1]); return TREE(a)
    if k == 'perform':   # SPEC 3.9.1: Ask's payload Int vs the argument, result fresh
        ta = infer(e[2], env, level); unify(INT(), ta, e[2][1]); return TV(level)
    if k == 'handle':   # SPEC 3.9.2: handle e with return x => r | Ask n k => c
        te = infer(e[2], env, level)
        env2 = dict(env); env2[e[3]] = Scheme(te, [])
        rho = infer(e[4], env2, level)
        env3 = dict(env); env3[e[5]] = Scheme(INT(), []); env3[e[6]] = Scheme(TF(TV(level), rho), [])
        tc = infer(e[7], env3, level); unify(rho, tc, e[7][1]); return rho
    if k == 'resume':   # SPEC 3.9.3: both inferred, nothing tied, result fresh
        infer(e[2], env, level); infer(e[3], env, level); return TV(level)
    if k == 'casetree':   # case s of p1 => e1 | ...: each pattern checked against the scrutinee's type
        return infer_arms(infer(e[2], env, level), e[3], env, level)
    if k == 'funclauses':   # let fun f p1 = e1 | f p2 = e2 ... in b end: hiko reads the clauses as
        # fn x => case x of p1 => e1 | ... (SPEC 3.5.4 names no order), the result type last,
        # at the `fun` (e[1] is the `let`)
        a = TV(level + 1); b = TV(level + 1)
        env1 = dict(env); env1[e[2]] = Scheme(TF(a, b), [])
        unify(b, infer_arms(a, e[3], env1, level + 1), e[1] + 4)
        env2 = dict(env); env2[e[2]] = generalize(TF(a, b), level)
        return infer(e[4], env2, level)
    raise Exception(k)

def infer_arms(ts, arms, env, level):
    # SPEC 3.5.1-2, 3.8.1: per arm its pattern, inferred bottom-up (a constructor's payload
    # pattern against the payload type at the payload pattern, as an application), then the
    # scrutinee's type against the first pattern's, the first pattern's against a later one's;
    # then the arm's body, a later body's type against the first one's
    tp = tb = None
    for p, body in arms:
        binds = {}; pt = infer_pat(p, level, binds)
        if tp is None: unify(ts, pt, p[1]); tp = pt
        else: unify(tp, pt, p[1])
        env2 = dict(env); env2.update({x: Scheme(t, []) for x, t in binds.items()})
        t = infer(body, env2, level)
        if tb is None: tb = t
        else: unify(tb, t, body[1])
    return tb

def infer_pat(p, level, binds):
    k = p[0]
    if k == 'pvar': t = TV(level); binds[p[2]] = t; return t
    if k == 'pwild': return TV(level)
    if k == 'pint': return INT()
    if k == 'pbool': return BOOL()
    if k == 'pleaf': return TREE(TV(level))
    if k == 'pnode':
        a = TV(level); ta = infer_pat(p[2], level, binds)
        unify(TT([TREE(a), a, TREE(a)]), ta, p[2][1]); return TREE(a)
    if k == 'ptup': return TT([infer_pat(x, level, binds) for x in p[2]])
    if k == 'pas': t = infer_pat(p[3], level, binds); binds[p[2]] = t; return t
    raise Exception(k)

NAMES = ["x", "y", "z", "f", "g"]

class Gen:
    def __init__(self): self.buf = ""
    def emit(self, s): self.buf += s

def gen(g, scope, d):
    pos = len(g.buf) + 2   # parenthesised forms: the expression starts after the paren
    r = random.random()
    if d <= 0 or r < 0.12:
        pos -= 1
        c = random.random()
        if scope and c < 0.6:
            v = random.choice(scope); g.emit(v); return ('var', pos, v)
        if c < 0.75: n = random.randint(0, 9); g.emit(str(n)); return ('int', pos, n)
        if c < 0.85: g.emit("true"); return ('bool', pos, True)
        if c < 0.95: g.emit('"s"'); return ('str', pos)
        g.emit("[]"); return ('nil', pos)
    if EXT and random.random() < 0.3: return gen_ext(g, scope, d, pos)
    if r < 0.25:
        v = random.choice(NAMES); g.emit("(fn %s => " % v)
        b = gen(g, scope + [v], d - 1); g.emit(")"); return ('fn', pos, v, b)
    if r < 0.42:
        g.emit("(")
        f = gen(g, scope, d - 1); g.emit(" ")
        a = gen(g, scope, d - 1); g.emit(")"); return ('app', pos, f, a)
    if r < 0.48:
        pos -= 1
        g.emit("("); a = gen(g, scope, d - 1); g.emit(", "); b = gen(g, scope, d - 1); g.emit(")")
        return ('tup', pos, [a, b])
    if r < 0.54:
        pos -= 1
        g.emit("["); items = []
        for i in range(random.randint(1, 3)):
            if i: g.emit(", ")
            items.append(gen(g, scope, d - 1))
        g.emit("]"); return ('list', pos, items)
    if r < 0.6:
        g.emit("("); a = gen(g, scope, d - 1); g.emit(" :: "); b = gen(g, scope, d - 1); g.emit(")")
        return ('cons', pos, a, b)
    if r < 0.68:
        op = random.choice(['+', '^', '='])
        g.emit("("); a = gen(g, scope, d - 1); g.emit(" %s " % op); b = gen(g, scope, d - 1); g.emit(")")
        return (op, pos, a, b)
    if r < 0.74:
        g.emit("(if "); c = gen(g, scope, d - 1); g.emit(" then "); a = gen(g, scope, d - 1)
        g.emit(" else "); b = gen(g, scope, d - 1); g.emit(")"); return ('if', pos, c, a, b)
    if r < 0.78:
        v = random.choice(NAMES); g.emit("(let val %s = " % v); a = gen(g, scope, d - 1)
        g.emit(" in "); b = gen(g, scope + [v], d - 1); g.emit(" end)"); return ('let', pos, v, a, b)
    if r < 0.82:
        f = random.choice(["f", "g", "h"]); x = random.choice(["x", "y", "z"])
        g.emit("(let fun %s %s = " % (f, x)); a = gen(g, scope + [f, x], d - 1)
        g.emit(" in "); b = gen(g, scope + [f], d - 1); g.emit(" end)")
        return ('letfun', pos, f, x, a, b)
    r2 = random.random()
    if r2 < 0.12:
        g.emit("("); a = gen(g, scope, d - 1); g.emit(" andalso "); b = gen(g, scope, d - 1); g.emit(")")
        return ('andalso', pos, a, b)
    if r2 < 0.2:
        g.emit("("); a = gen(g, scope, d - 1); g.emit(" orelse "); b = gen(g, scope, d - 1); g.emit(")")
        return ('orelse', pos, a, b)
    if r2 < 0.26:
        g.emit("(not "); a = gen(g, scope, d - 1); g.emit(")"); return ('not', pos, a)
    if r2 < 0.34:
        g.emit("(~"); a = gen(g, scope, d - 1); g.emit(")"); return ('neg', pos, a)
    if r2 < 0.4:
        g.emit("("); a = gen(g, scope, d - 1); g.emit(" +. "); b = gen(g, scope, d - 1); g.emit(")")
        return ('fadd', pos, a, b)
    if r2 < 0.5:
        ann = random.choice([("Int", ('c', 'Int', [])), ("Bool", ('c', 'Bool', [])), ("'a list", ('c', 'list', [('v', 'a')])),
                             ("'a -> 'a", ('f', ('v', 'a'), ('v', 'a'))), ("'a * 'b", ('t', [('v', 'a'), ('v', 'b')])),
                             ("Int option", ('c', 'option', [('c', 'Int', [])])), ("'a -> 'b", ('f', ('v', 'a'), ('v', 'b'))),
                             ("Float", ('c', 'Float', []))])
        g.emit("("); a = gen(g, scope, d - 1); g.emit(" : %s)" % ann[0]); return ('annot', pos, a, ann[1])
    if r2 < 0.6:
        g.emit("(Some "); a = gen(g, scope, d - 1); g.emit(")"); return ('some', pos, a)
    if r2 < 0.66:
        g.emit("None"); return ('none', pos - 1)
    if r2 < 0.72:
        g.emit("1.5"); return ('float', pos - 1)
    if r2 < 0.8:
        x = random.choice(NAMES); y = random.choice([n for n in NAMES if n != x])
        g.emit("(fn (%s, %s) => " % (x, y)); b = gen(g, scope + [x, y], d - 1); g.emit(")")
        return ('fntup', pos, x, y, b)
    if r2 < 0.9:
        g.emit("(case "); s_ = gen(g, scope, d - 1); g.emit(" of ")
        p1 = len(g.buf) + 1; g.emit("None => "); a = gen(g, scope, d - 1)
        hv = random.choice(NAMES)
        g.emit(" | "); p2 = len(g.buf) + 1; g.emit("Some %s => " % hv); b = gen(g, scope + [hv], d - 1)
        g.emit(")")
        return ('caseopt', pos, s_, p1, a, p2, hv, b)
    g.emit("(case "); s = gen(g, scope, d - 1); g.emit(" of ")
    p1 = len(g.buf) + 1; g.emit("[] => "); a = gen(g, scope, d - 1)
    hv = random.choice(["x", "y"]); tv = random.choice(["z", "g"])
    g.emit(" | "); p2 = len(g.buf) + 1; g.emit("%s :: %s => " % (hv, tv)); b = gen(g, scope + [hv, tv], d - 1)
    g.emit(")")
    return ('case', pos, s, p1, a, p2, hv, tv, b)

EXT = False   # the second mode: the datatype tree, nested patterns, fun clauses, effects
DECLS = "datatype 'a option = None | Some of 'a "
EXT_DECLS = "datatype 'a tree = Leaf | Node of 'a tree * 'a * 'a tree effect Ask of Int "
PAT_NAMES = ["p", "q", "r", "s", "u", "v"]

def gen_pat(g, used, d):
    # a pattern at depth d (SPEC 3.8); variables are distinct within one pattern (3.8.2)
    pos = len(g.buf) + 1
    c = random.random()
    free = [n for n in PAT_NAMES if n not in used]
    if d <= 0 or c < 0.4:
        if free and random.random() < 0.7:
            v = random.choice(free); used.append(v); g.emit(v); return ('pvar', pos, v)
        g.emit("_"); return ('pwild', pos)
    if c < 0.5: g.emit(str(random.randint(0, 3))); return ('pint', pos)
    if c < 0.58: g.emit("true"); return ('pbool', pos)
    if c < 0.7: g.emit("Leaf"); return ('pleaf', pos)
    if c < 0.85: return gen_node_pat(g, used, d - 1, True)
    if free:
        v = random.choice(free); used.append(v); g.emit("(%s as " % v)
        q = gen_pat(g, used, d - 1); g.emit(")"); return ('pas', pos + 1, v, q)
    g.emit("_"); return ('pwild', pos)

def gen_node_pat(g, used, d, paren):
    if paren: g.emit("(")
    pos = len(g.buf) + 1; g.emit("Node "); tpos = len(g.buf) + 1; g.emit("(")
    items = []
    for i in range(3):
        if i: g.emit(", ")
        items.append(gen_pat(g, used, d))
    g.emit(")")
    if paren: g.emit(")")
    return ('pnode', pos, ('ptup', tpos, items))

def refutable(p):
    if p[0] in ('pvar', 'pwild'): return False
    if p[0] == 'pas': return refutable(p[3])
    if p[0] == 'ptup': return any(refutable(x) for x in p[2])
    return True

def tree_arms(g, scope, d, head):
    # Leaf and Node arms in either order, then `_` if the Node arm is refutable below the
    # constructor (every match exhaustive, no clause redundant: SPEC 3.8.3 stays silent); now
    # and then one arm is an ill-typed pattern, which the checker reports first
    arms = []; order = random.sample([0, 1], 2); bad = random.random() < 0.1; badj = random.randint(0, 1)
    for j, which in enumerate(order):
        if j: g.emit(" | ")
        g.emit(head); pos = len(g.buf) + 1; used = []
        if bad and j == badj:
            c = random.choice(["1", "true", "(p, q)"])
            pt = {"1": ('pint', pos), "true": ('pbool', pos),
                  "(p, q)": ('ptup', pos, [('pvar', pos + 1, 'p'), ('pvar', pos + 4, 'q')])}[c]
            used = ['p', 'q'] if c == "(p, q)" else []
            g.emit(c)
        elif which == 0: g.emit("Leaf"); pt = ('pleaf', pos)
        else:
            pt = gen_node_pat(g, used, random.randint(0, 2), head != "")
        g.emit(" => " if not head else " = ")
        arms.append((pt, gen(g, scope + used, d - 1)))
    if bad or any(refutable(p[2]) for p, _ in arms if p[0] == 'pnode'):
        g.emit(" | " + head); pos = len(g.buf) + 1; g.emit("_" + (" => " if not head else " = "))
        arms.append((('pwild', pos), gen(g, scope, d - 1)))
    return arms

def gen_ext(g, scope, d, pos):
    c = random.random()
    if c < 0.08: g.emit("Leaf"); return ('leaf', pos - 1)
    if c < 0.12: g.emit("Node"); return ('nodefn', pos - 1)
    if c < 0.3:
        g.emit("(Node "); tpos = len(g.buf) + 1; g.emit("("); items = []
        for i in range(3):
            if i: g.emit(", ")
            items.append(gen(g, scope, d - 1))
        g.emit("))"); return ('node', pos, ('tup', tpos, items))
    if c < 0.42:
        g.emit("(perform Ask "); a = gen(g, scope, d - 1); g.emit(")"); return ('perform', pos, a)
    if c < 0.6:
        g.emit("(handle "); a = gen(g, scope, d - 1)
        x = random.choice(NAMES); g.emit(" with return %s => " % x); r = gen(g, scope + [x], d - 1)
        n = random.choice(["n", "x"]); k = random.choice(["k", "f"])
        g.emit(" | Ask %s %s => " % (n, k)); sc = scope + [n, k]
        if random.random() < 0.5:
            cpos = len(g.buf) + 2; g.emit("(resume %s " % k); v = gen(g, sc, d - 1); g.emit(")")
            body = ('resume', cpos, ('var', cpos + 7, k), v)
        else: body = gen(g, sc, d - 1)
        g.emit(")"); return ('handle', pos, a, x, r, n, k, body)
    if c < 0.82:
        g.emit("(case "); s_ = gen(g, scope, d - 1); g.emit(" of ")
        arms = tree_arms(g, scope, d, ""); g.emit(")"); return ('casetree', pos, s_, arms)
    f = random.choice(["f", "h"]); g.emit("(let fun ")
    arms = tree_arms(g, scope + [f], d, f + " "); g.emit(" in "); b = gen(g, scope + [f], d - 1)
    g.emit(" end)"); return ('funclauses', pos, f, arms, b)

def fold(e):
    k = e[0]
    if k in ('int', 'bool', 'str', 'nil', 'var'): return e
    if k == 'fn': return (k, e[1], e[2], fold(e[3]))
    if k == 'app': return (k, e[1], fold(e[2]), fold(e[3]))
    if k == 'tup': return (k, e[1], [fold(x) for x in e[2]])
    if k == 'list': return (k, e[1], [fold(x) for x in e[2]])
    if k == 'cons': return (k, e[1], fold(e[2]), fold(e[3]))
    if k in ('+', '^', '='):
        a = fold(e[2]); b = fold(e[3])
        if k == '+' and a[0] == 'int' and b[0] == 'int': return ('int', e[1], a[2] + b[2])
        if k == '^' and a[0] == 'str' and b[0] == 'str': return ('str', e[1])
        if k == '=' and a[0] == 'int' and b[0] == 'int': return ('bool', e[1], a[2] == b[2])
        return (k, e[1], a, b)
    if k == 'if':
        c = fold(e[2])
        if c[0] == 'bool':
            return fold(e[3]) if c[2] else fold(e[4])
        return (k, e[1], c, fold(e[3]), fold(e[4]))
    if k == 'let': return (k, e[1], e[2], fold(e[3]), fold(e[4]))
    if k == 'letfun': return (k, e[1], e[2], e[3], fold(e[4]), fold(e[5]))
    if k == 'case': return e[:2] + (fold(e[2]),) + e[3:4] + (fold(e[4]),) + e[5:8] + (fold(e[8]),)
    if k in ('float', 'none'): return e
    if k == 'andalso':
        a = fold(e[2])
        if a[0] == 'bool': return fold(e[3]) if a[2] else ('bool', e[1], False)
        return (k, e[1], a, fold(e[3]))
    if k == 'orelse':
        a = fold(e[2])
        if a[0] == 'bool': return ('bool', e[1], True) if a[2] else fold(e[3])
        return (k, e[1], a, fold(e[3]))
    if k == 'not':
        a = fold(e[2])
        if a[0] == 'bool': return ('bool', e[1], not a[2])
        return (k, e[1], a)
    if k == 'neg':
        a = fold(e[2])
        if a[0] == 'int': return ('int', e[1], -a[2])
        if a[0] == 'float': return ('float', e[1])
        return (k, e[1], a)
    if k == 'fadd':
        a = fold(e[2]); b = fold(e[3])
        if a[0] == 'float' and b[0] == 'float': return ('float', e[1])
        return (k, e[1], a, b)
    if k == 'annot': return (k, e[1], fold(e[2]), e[3])
    if k == 'some': return (k, e[1], fold(e[2]))
    if k == 'caseopt': return e[:2] + (fold(e[2]),) + e[3:4] + (fold(e[4]),) + e[5:7] + (fold(e[7]),)
    if k == 'fntup': return e[:4] + (fold(e[4]),)
    if k in ('leaf', 'nodefn'): return e
    if k in ('node', 'perform'): return (k, e[1], fold(e[2]))
    if k == 'handle': return e[:2] + (fold(e[2]), e[3], fold(e[4]), e[5], e[6], fold(e[7]))
    if k == 'resume': return (k, e[1], e[2], fold(e[3]))
    if k == 'casetree': return (k, e[1], fold(e[2]), [(p, fold(b)) for p, b in e[3]])
    if k == 'funclauses': return (k, e[1], e[2], [(p, fold(b)) for p, b in e[3]], fold(e[4]))
    raise Exception(k)

def main():
    global EXT
    if len(sys.argv) > 2 and sys.argv[2] == "--ext":
        EXT = True; del sys.argv[2]
    hiko = os.path.abspath(sys.argv[1])
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 2200
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 150
    random.seed(seed)
    diffs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            g = Gen()
            if random.random() < 0.5:
                g.emit("val it = ")
                e = gen(g, [], random.randint(2, 6))
                prog, wrap = g.buf, False
            else:
                g.emit("val _ : Unit list list list = (")
                e = gen(g, [], random.randint(2, 6))
                prog, wrap = g.buf + ", 0)", True
                e = ('tup', len("val _ : Unit list list list = ") + 1, [e, ('int', 0, 0)])
            e = fold(e)
            try:
                t = infer(e, {}, 0)
                if wrap:
                    unify(LIST(LIST(LIST(TC("Unit")))), t, e[1])
                want = "OK"
            except TypeErr as ex:
                want = "t.hml:2:%d: error: %s" % (ex.pos, ex.msg)
            with open(os.path.join(tmp, "t.hml"), "w") as f:
                f.write(DECLS + (EXT_DECLS if EXT else "") + "\n" + prog + "\n")
            p = subprocess.run([hiko, "check", "t.hml"], cwd=tmp, capture_output=True)
            got = p.stdout.decode().strip() if p.returncode == 0 else p.stderr.decode().split("\n")[0]
            if p.returncode not in (0, 1) or got != want:
                diffs.append("term %d (status %d): %s\n  want: %s\n  got:  %s" % (i, p.returncode, prog, want, got))
    print("1..1")
    if diffs:
        print("not ok 1 - %d of %d random terms: hiko check's first diagnostic differs from the model (seed %d)" % (len(diffs), n, seed))
        for d in diffs[:10]:
            for line in d.split("\n"):
                print("# " + line)
        return 1
    print("ok 1 - %d random terms: hiko check's first diagnostic matches the model (seed %d)" % (n, seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
