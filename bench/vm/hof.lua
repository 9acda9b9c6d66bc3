local function iterate(f, k, acc)
  while k ~= 0 do acc = f(acc, k); k = k - 1 end
  return acc
end
local function step(acc, k) return (acc * 31 + k) % 1000003 end
local function run(m)
  local function mix(acc, k) return (acc + k * m) % 999983 end
  return iterate(mix, 5000000, iterate(step, 5000000, 0))
end
local r = run(7)
assert(r == 974643, "hof: wrong result " .. r)
print(r)
