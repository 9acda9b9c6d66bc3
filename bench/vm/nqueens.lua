local function ok(q, d, qs)
  while qs do
    local c = qs[1]
    if c == q or c + d == q or c - d == q then return false end
    d = d + 1
    qs = qs[2]
  end
  return true
end
local place
local function try(n, row, qs, col, acc)
  while col < n do
    if ok(col, 1, qs) then acc = acc + place(n, row + 1, {col, qs}) end
    col = col + 1
  end
  return acc
end
place = function(n, row, qs) if row == n then return 1 else return try(n, row, qs, 0, 0) end end
local r
for _ = 1, 10 do r = place(8, 0, nil) end
assert(r == 92, "nqueens: wrong result")
print(r)
