-- simplejwt refresh arm: every request presents a different, never-used refresh
-- token in simplejwt's JSON body (rotation with the blacklist refuses a reused one).
-- Argument: token file. Run with one wrk thread (-t1): each thread would read the same list.
local tokens = {}
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
end

function request()
  i = i + 1
  local token = tokens[i] or "exhausted"
  return wrk.format("POST", "/bench/sjwt/refresh/", {
    ["Content-Type"] = "application/json",
  }, '{"refresh": "' .. token .. '"}')
end
