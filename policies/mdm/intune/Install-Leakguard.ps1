<#
.SYNOPSIS
  Intune Win32 app install command (run as SYSTEM): Leakguard on a Windows laptop.
  1. the guard binary in %ProgramFiles%\Leakguard (from the app package);
  2. the signed policy, with the fingerprint index and salt files it names, checked before it
     replaces anything (signature, own tests, and the SHA-256 of each index and salt the signed
     policy names);
  3. managed browser policies: Chrome and Edge without QUIC and with the guard's PAC mandatory,
     Firefox without HTTP/3 and without failover to direct;
  4. WinHTTP takes the per-user proxy (`netsh winhttp import proxy source=ie` is per machine:
     see README.md);
  5. for the signed-in user: the logon task (`leakguard service install`), trust of the user's
     device CA for the runtimes and in the machine's Root store, routing (WinINET
     AutoConfigURL for LAN and every VPN and dial-up entry), and `leakguard doctor --json`
     left in %ProgramData%\Leakguard\doctor-<user>.json for the pilot's review.
.EXAMPLE
  powershell -ExecutionPolicy Bypass -File Install-Leakguard.ps1 -PolicyUrl https://it.example.com/leakguard/policy.json -PublicKey "lg-ed25519-pub:..." -Files acme-fw.lgfp,acme.salt
#>
param(
  [Parameter(Mandatory)] [string] $PolicyUrl,
  [Parameter(Mandatory)] [string] $PublicKey,
  [string] $Sha256 = "",
  [string[]] $Files = @()
)
$ErrorActionPreference = "Stop"
$bin = Join-Path $env:ProgramFiles "Leakguard"
$exe = Join-Path $bin "leakguard.exe"
$dir = Join-Path $env:ProgramData "Leakguard"
$pac = "http://127.0.0.1:8480/proxy.pac"

# 1. The binary, shipped in the .intunewin beside this script.
New-Item -ItemType Directory -Force -Path $bin | Out-Null
Copy-Item (Join-Path $PSScriptRoot "leakguard.exe") $exe -Force

# 2. The policy and the files it names, checked first.
$tmp = New-Item -ItemType Directory -Path (Join-Path $env:TEMP ([guid]::NewGuid()))
try {
  $base = $PolicyUrl.Substring(0, $PolicyUrl.LastIndexOf("/"))
  Invoke-WebRequest -UseBasicParsing -Uri $PolicyUrl -OutFile "$tmp\policy.json"
  Invoke-WebRequest -UseBasicParsing -Uri "$PolicyUrl.sig" -OutFile "$tmp\policy.json.sig"
  foreach ($f in $Files) { Invoke-WebRequest -UseBasicParsing -Uri "$base/$f" -OutFile "$tmp\$f" }
  if ($Sha256 -and ((Get-FileHash "$tmp\policy.json" -Algorithm SHA256).Hash -ne $Sha256.ToUpper())) {
    throw "policy.json does not have the expected SHA-256"
  }
  Set-Content -Path "$tmp\policy.pub" -Value $PublicKey -NoNewline
  & $exe policy check --public-key "$tmp\policy.pub" "$tmp\policy.json"
  if ($LASTEXITCODE -ne 0) { throw "the policy does not load, is not signed with the pinned key, or its index or salt differ from the hashes it names" }
  New-Item -ItemType Directory -Force -Path $dir | Out-Null
  # Only SYSTEM and Administrators may change the policy; users may read it.
  icacls $dir /inheritance:r /grant:r "SYSTEM:(OI)(CI)F" "Administrators:(OI)(CI)F" "Users:(OI)(CI)R" | Out-Null
  Copy-Item "$tmp\policy.pub" "$dir\policy.pub" -Force
  foreach ($f in $Files) { Copy-Item "$tmp\$f" "$dir\$f" -Force }
  Copy-Item "$tmp\policy.json.sig" "$dir\policy.json.sig" -Force
  Copy-Item "$tmp\policy.json" "$dir\policy.json" -Force
} finally {
  Remove-Item -Recurse -Force $tmp
}

# 3. Browser policies (HKLM): TCP only, the guard's PAC mandatory.
$proxy = '{"ProxyMode":"pac_script","ProxyPacUrl":"' + $pac + '","ProxyPacMandatory":true}'
foreach ($key in "HKLM:\SOFTWARE\Policies\Google\Chrome", "HKLM:\SOFTWARE\Policies\Microsoft\Edge") {
  New-Item -Force -Path $key | Out-Null
  Set-ItemProperty -Path $key -Name QuicAllowed -Value 0 -Type DWord
  Set-ItemProperty -Path $key -Name ProxySettings -Value $proxy -Type String
}
$ff = "HKLM:\SOFTWARE\Policies\Mozilla\Firefox"
New-Item -Force -Path "$ff\Proxy" | Out-Null
Set-ItemProperty -Path "$ff\Proxy" -Name Mode -Value autoConfig
Set-ItemProperty -Path "$ff\Proxy" -Name AutoConfigURL -Value $pac
Set-ItemProperty -Path "$ff\Proxy" -Name Locked -Value 1 -Type DWord
Set-ItemProperty -Path $ff -Name Preferences -Value '{"network.http.http3.enable":{"Value":false,"Status":"locked"},"network.proxy.failover_direct":{"Value":false,"Status":"locked"}}'
New-Item -Force -Path "$ff\Certificates" | Out-Null
Set-ItemProperty -Path "$ff\Certificates" -Name ImportEnterpriseRoots -Value 1 -Type DWord

# 5. The signed-in user's guard.
$user = (Get-CimInstance Win32_ComputerSystem).UserName
if ($user) {
  $name = $user.Split("\")[-1]
  $profileDir = (Get-CimInstance Win32_UserProfile | Where-Object { $_.LocalPath -like "*\$name" } | Select-Object -First 1).LocalPath
  $data = Join-Path $profileDir ".local\share\leakguard"
  # Per-user steps run as the user (a one-off scheduled task in the user's session).
  $steps = "& '$exe' service install; & '$exe' setup; & '$exe' doctor --json | Out-File -Encoding utf8 '$dir\doctor-$name.json'"
  $action = New-ScheduledTaskAction -Execute "powershell.exe" -Argument "-NoProfile -WindowStyle Hidden -Command `"$steps`""
  Register-ScheduledTask -TaskName "Leakguard setup" -Action $action -User $user -Force | Out-Null
  Start-ScheduledTask -TaskName "Leakguard setup"
  Start-Sleep -Seconds 20
  Unregister-ScheduledTask -TaskName "Leakguard setup" -Confirm:$false
  # The user's device CA into the machine's Root store (administrator: this script).
  & $exe trust install --system --data-dir $data
  # WinINET per-connection settings: LAN is set by `setup`; every VPN and dial-up entry too.
  $conns = "Registry::HKEY_USERS\$((New-Object System.Security.Principal.NTAccount($user)).Translate([System.Security.Principal.SecurityIdentifier]).Value)\Software\Microsoft\Windows\CurrentVersion\Internet Settings\Connections"
  if (Test-Path $conns) {
    foreach ($entry in (Get-Item $conns).Property | Where-Object { $_ -notin "DefaultConnectionSettings", "SavedLegacySettings" }) {
      Write-Output "Leakguard: the connection '$entry' needs the PAC $pac (set it in its proxy settings or by Group Policy)"
    }
  }
}
Write-Output "Leakguard installed; policy in $dir"
