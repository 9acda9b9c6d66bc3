local function build(i, acc)
  while i > 0 do acc = acc .. tostring(i % 10); i = i - 1 end
  return acc
end
local r
for _ = 1, 5 do r = #build(20000, "") end
assert(r == 20000, "strings: wrong result")
print(r)
