local function build(n)
  local acc = nil
  for i = n, 1, -1 do acc = {i, acc} end
  return acc
end
local function foldl(f, acc, xs)
  while xs do acc = f(acc, xs[1]); xs = xs[2] end
  return acc
end
local r
for _ = 1, 3 do r = foldl(function(a, b) return a + b end, 0, build(1000000)) end
assert(r == 500000500000, "list: wrong result")
print(r)
