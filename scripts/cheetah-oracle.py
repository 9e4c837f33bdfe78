#!/usr/bin/env python3
"""The reference for conteneur's Cheetah engine: Cheetah3 with Creole's
compiler settings and Creole's namespace, fed the values conteneur dumps.

    cheetah-oracle.py DUMP.json TEMPLATES_DIR OUT.json [NAME...]
    cheetah-oracle.py --bench DUMP.json TEMPLATES_DIR [NAME...]

DUMP.json is conteneur's `template::cheetah::dump` of a configuration:
{"variables": {name: value}, "masters": {master: {"values": [...],
"slaves": {slave: [...]}}}, "missing": {name: why}, "current_container":
{...}}. OUT.json gets, per template, {"ok": text} or {"error": "Type:
message"}. --bench prints the seconds taken to compile and render the
templates, each from its source (no compilation cache), in this fresh
process.

Run by scripts/cheetah-oracle.sh, which makes the virtual environment.
"""

import ipaddress
import json
import os
import sys
import time

from Cheetah.Template import Template

# Creole's settings (creole/template.py).
COMPILER_SETTINGS = {
    'directiveStartToken': '%',
    'cheetahVarStartToken': '%%',
    'EOLSlurpToken': '%',
    'PSPStartToken': 'µ' * 10,
    'PSPEndToken': 'µ' * 10,
    'commentStartToken': 'µ' * 10,
    'commentEndToken': 'µ' * 10,
    'multiLineCommentStartToken': 'µ' * 10,
    'multiLineCommentEndToken': 'µ' * 10,
}


class CreoleMaster(object):
    """A master variable: iterates as one object per index with its slaves
    as attributes; prints and compares as the list of its values (as
    Creole's creole.template.CreoleMaster)."""

    def __init__(self, value, slaves=None, index=None):
        self._value = value
        self.slave = slaves if slaves is not None else {}
        self._index = index

    def __getattr__(self, name):
        if name.startswith('__') or name in ('_value', 'slave', '_index'):
            raise AttributeError(name)
        if name in self.slave:
            return self.slave[name]
        return getattr(self._value, name)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._value[index]
        ret = {}
        for key, values in self.slave.items():
            ret[key] = values[index]
        return CreoleMaster(self._value[index], ret, index)

    def __iter__(self):
        for i in range(len(self._value)):
            ret = {}
            for key, values in self.slave.items():
                ret[key] = values[i] if i < len(values) else None
            yield CreoleMaster(self._value[i], ret, i)

    def __len__(self):
        return len(self._value)

    def __repr__(self):
        return repr(self._value)

    def __str__(self):
        return str(self._value)

    def __eq__(self, other):
        return self._value == other

    def __ne__(self, other):
        return self._value != other

    def __lt__(self, other):
        return self._value < other

    def __le__(self, other):
        return self._value <= other

    def __gt__(self, other):
        return self._value > other

    def __ge__(self, other):
        return self._value >= other

    def __bool__(self):
        return bool(self._value)

    def __add__(self, other):
        return self._value.__add__(other)

    def __radd__(self, other):
        return other + self._value

    def __contains__(self, item):
        return item in self._value

    def __hash__(self):
        return hash(self._value)


class Unsupported(Exception):
    pass


class CreoleClient(object):
    """Creole's client of its daemon: only get(path) reads the values;
    the containers, interfaces and services model is not conteneur's."""

    def __init__(self, flat, container):
        self._flat = flat
        self._container = container

    def get_container(self, name):
        # conteneur renders on the host: Creole's one container.
        if name == self._container.get('name'):
            return self._container
        raise KeyError('no container %r' % name)

    def get(self, path):
        name = path
        if path.startswith('creole.'):
            name = path.rsplit('.', 1)[-1]
        if name in self._flat:
            value = self._flat[name]
            if isinstance(value, CreoleMaster):
                return list(value._value)
            return value
        raise KeyError(path)

    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        raise Unsupported('creole_client.%s(): not modelled' % name)


def is_empty(data):
    return str(data) in ['', '""', "''", '[]', "['']", '[""]', 'None']


def custom_join(multivar, separator=' '):
    return separator.join([str(i) for i in multivar])


def calc_classe(netmask):
    try:
        return str(ipaddress.IPv4Network('0.0.0.0/' + str(netmask)).prefixlen)
    except ValueError:
        raise ValueError("calc_classe(): '%s' is not a netmask" % netmask)


def is_ip(data):
    try:
        ipaddress.IPv4Address(str(data))
        return True
    except ValueError:
        return False


def namespace(dump):
    context = {}
    flat = {}
    for name, value in dump.get('variables', {}).items():
        flat[name] = value
        if '.' in name:
            parts = name.split('.')
            cur = context.setdefault(parts[0], {})
            if not isinstance(cur, dict):
                continue
            for part in parts[1:-1]:
                cur = cur.setdefault(part, {})
            cur[parts[-1]] = value
        else:
            context[name] = value
    for name, master in dump.get('masters', {}).items():
        context[name] = CreoleMaster(master['values'], master['slaves'])
        flat[name] = context[name]

    def is_defined(varname):
        return varname in context

    container = dump.get('current_container', {'name': 'root', 'group': 'root'})

    helpers = {
        'is_defined': is_defined,
        'is_empty': is_empty,
        'custom_join': custom_join,
        'calc_classe': calc_classe,
        'is_ip': is_ip,
        'creole_client': CreoleClient(flat, container),
        'current_container': container,
    }
    return [context, helpers]


def render(path, search_list):
    template = Template(file=path, searchList=search_list,
                        compilerSettings=COMPILER_SETTINGS)
    return str(template)


def main(argv):
    bench = False
    if argv and argv[0] == '--bench':
        bench = True
        argv = argv[1:]
    if len(argv) < (2 if bench else 3):
        sys.stderr.write(__doc__)
        return 2
    with open(argv[0], encoding='utf-8') as f:
        dump = json.load(f)
    folder = argv[1]
    names = argv[2 if bench else 3:] or sorted(os.listdir(folder))
    results = {}
    start = time.perf_counter()
    for name in names:
        try:
            results[name] = {'ok': render(os.path.join(folder, name),
                                          namespace(dump))}
        except Exception as e:  # every failure is a refusal to report
            results[name] = {'error': '%s: %s' % (type(e).__name__, e)}
    elapsed = time.perf_counter() - start
    if bench:
        ok = sum(1 for r in results.values() if 'ok' in r)
        print('%.6f %d %d' % (elapsed, len(names), ok))
        return 0
    with open(argv[2], 'w', encoding='utf-8') as f:
        json.dump(results, f, ensure_ascii=False, indent=1, sort_keys=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
