#!/usr/bin/env python3
"""The API is described twice, in docs/api.md (for readers) and beside each
declaration in include/wpool.h (for callers); they must not drift. For each
function docs/api.md describes in a bullet of its own ("- `SIGNATURE`:
TEXT"), TEXT must be part of the comment right above that function's
declaration in the header, compared as words: markdown links read as their
text, `docs/` prefixes, backticks, comment stars and case do not count.
usage: api_doc.py SOURCE_ROOT"""
import os, re, sys

root = sys.argv[1]
api = open(os.path.join(root, 'docs', 'api.md')).read()
header = open(os.path.join(root, 'include', 'wpool.h')).read()

def words(text):
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', text)  # [x](y) -> x
    text = text.replace('`', '').replace('docs/', '')
    text = re.sub(r'^\s*\*+ ?', ' ', text, flags=re.M)     # comment stars
    text = text.replace('/*', ' ').replace('*/', ' ')
    return ' '.join(text.lower().split()).rstrip('.')

def comment_above(name):
    m = re.search(r'WPOOL_EXPORT [^;(]*\b%s\s*\(' % re.escape(name), header)
    if not m:
        return None
    before = header[:m.start()].rstrip()
    if not before.endswith('*/'):
        return ''
    start = before.rfind('/*')
    return before[start:]

bullets = re.findall(r'^- `([^`\n]*\b(wpool_\w+)\([^`\n]*\))`:(.*?)(?=^- |^#|^\S|\Z)', api,
                     re.M | re.S)
failures = []
for signature, name, text in bullets:
    comment = comment_above(name)
    if comment is None:
        failures.append('%s: in docs/api.md but not declared in include/wpool.h' % name)
    elif words(text) not in words(comment):
        failures.append('%s: docs/api.md says\n    %s\n  which the header comment does not:\n    %s'
                        % (name, words(text), words(comment)))
print('%d functions described in both places' % len(bullets))
for f in failures:
    print('FAIL: ' + f)
if len(bullets) < 8:
    print('FAIL: only %d bullets found in docs/api.md' % len(bullets))
    failures.append('few')
sys.exit(1 if failures else 0)
