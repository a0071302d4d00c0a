; Inno Setup 6 script: per-user installer for XRay Viewer (no administrator rights needed).
;
;   iscc /DMyAppVersion=0.1.0 packaging\windows\xrayviewer.iss
;
; Input: the one-folder app built by `pyinstaller build_installer.spec` (dist\XRayViewer\).
; Output: dist\XRayViewer-<version>-windows-x64-setup.exe.
; Installs to %LOCALAPPDATA%\Programs\XRay Viewer; Start-menu shortcut, optional desktop
; shortcut, .dcm association (optional task) and "Open with" for JPEG/PNG/TIFF, all in HKCU.
; The uninstaller removes the program but keeps the user's retrained models, settings and
; logs (%LOCALAPPDATA%\XRayViewer) unless the user answers Yes, or passes /PURGEUSERDATA=1.
; tests/test_packaging_spec.py checks this file's sections and keys.

#ifndef MyAppVersion
  #define MyAppVersion "0.0.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\XRayViewer"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
#define MyAppName "XRay Viewer"
#define MyAppExeName "XRayViewer.exe"
#define MyAppPublisher "XRay Viewer contributors"
#define MyProgIdDicom "XRayViewer.dcm"
#define MyProgIdImage "XRayViewer.image"
; platformdirs' per-user folder of the app (models, cache, logs, settings.ini)
#define MyUserDataDir "{localappdata}\XRayViewer"

[Setup]
; AppId identifies the app for upgrades and the uninstaller: never change it.
AppId={{6F1D6C52-2B7E-4C1B-9A53-58C2D1A7E0B4}
AppName={#MyAppName}
AppVersion={#MyAppVersion}
AppVerName={#MyAppName} {#MyAppVersion}
AppPublisher={#MyAppPublisher}
VersionInfoVersion={#MyAppVersion}
VersionInfoProductName={#MyAppName}
; Per-user install: no UAC prompt; {autopf} is %LOCALAPPDATA%\Programs, registry goes to HKCU.
PrivilegesRequired=lowest
DefaultDirName={autopf}\{#MyAppName}
DefaultGroupName={#MyAppName}
DisableProgramGroupPage=yes
UsedUserAreasWarning=no
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
ChangesAssociations=yes
CloseApplications=yes
SetupIconFile=..\..\resources\icon.ico
UninstallDisplayIcon={app}\{#MyAppExeName}
UninstallDisplayName={#MyAppName}
OutputDir={#OutputDir}
OutputBaseFilename=XRayViewer-{#MyAppVersion}-windows-x64-setup
; TensorFlow is large: LZMA2 with several threads keeps iscc within a few minutes on CI.
Compression=lzma2
SolidCompression=yes
LZMAUseSeparateProcess=yes
LZMANumBlockThreads=4
WizardStyle=modern

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "dcmassoc"; Description: "Open DICOM files (.dcm) with {#MyAppName}"; GroupDescription: "File associations:"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#MyAppName}"; Filename: "{app}\{#MyAppExeName}"
Name: "{autodesktop}\{#MyAppName}"; Filename: "{app}\{#MyAppExeName}"; Tasks: desktopicon

[Registry]
; HKA = HKCU\Software\Classes for a per-user install.
; --- DICOM: a ProgID of our own; made the default for .dcm only with the "dcmassoc" task ---
Root: HKA; Subkey: "Software\Classes\{#MyProgIdDicom}"; ValueType: string; ValueName: ""; ValueData: "DICOM image"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#MyProgIdDicom}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#MyAppExeName},0"
Root: HKA; Subkey: "Software\Classes\{#MyProgIdDicom}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#MyAppExeName}"" ""%1"""
Root: HKA; Subkey: "Software\Classes\.dcm"; ValueType: string; ValueName: ""; ValueData: "{#MyProgIdDicom}"; Flags: uninsdeletevalue; Tasks: dcmassoc
Root: HKA; Subkey: "Software\Classes\.dcm"; ValueType: string; ValueName: "Content Type"; ValueData: "application/dicom"; Flags: createvalueifdoesntexist uninsdeletevalue; Tasks: dcmassoc
Root: HKA; Subkey: "Software\Classes\.dcm\OpenWithProgids"; ValueType: string; ValueName: "{#MyProgIdDicom}"; ValueData: ""; Flags: uninsdeletevalue
; --- JPEG/PNG/TIFF: only offered in "Open with", never taking over the default viewer ---
Root: HKA; Subkey: "Software\Classes\{#MyProgIdImage}"; ValueType: string; ValueName: ""; ValueData: "Image (XRay Viewer)"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#MyProgIdImage}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#MyAppExeName},0"
Root: HKA; Subkey: "Software\Classes\{#MyProgIdImage}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#MyAppExeName}"" ""%1"""
Root: HKA; Subkey: "Software\Classes\.jpg\OpenWithProgids"; ValueType: string; ValueName: "{#MyProgIdImage}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.jpeg\OpenWithProgids"; ValueType: string; ValueName: "{#MyProgIdImage}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.png\OpenWithProgids"; ValueType: string; ValueName: "{#MyProgIdImage}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.tif\OpenWithProgids"; ValueType: string; ValueName: "{#MyProgIdImage}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.tiff\OpenWithProgids"; ValueType: string; ValueName: "{#MyProgIdImage}"; ValueData: ""; Flags: uninsdeletevalue
; --- the application itself, for "Open with > Choose another app" ---
Root: HKA; Subkey: "Software\Classes\Applications\{#MyAppExeName}"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "{#MyAppName}"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\{#MyAppExeName}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#MyAppExeName},0"
Root: HKA; Subkey: "Software\Classes\Applications\{#MyAppExeName}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#MyAppExeName}"" ""%1"""
Root: HKA; Subkey: "Software\Classes\Applications\{#MyAppExeName}\SupportedTypes"; ValueType: string; ValueName: ".dcm"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#MyAppExeName}\SupportedTypes"; ValueType: string; ValueName: ".jpg"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#MyAppExeName}\SupportedTypes"; ValueType: string; ValueName: ".jpeg"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#MyAppExeName}\SupportedTypes"; ValueType: string; ValueName: ".png"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#MyAppExeName}\SupportedTypes"; ValueType: string; ValueName: ".tif"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#MyAppExeName}\SupportedTypes"; ValueType: string; ValueName: ".tiff"; ValueData: ""

[Run]
Filename: "{app}\{#MyAppExeName}"; Description: "{cm:LaunchProgram,{#StringChange(MyAppName, '&', '&&')}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only what the installer itself put in {app}; never the per-user data folder (see [Code]).
Type: dirifempty; Name: "{app}"

[Code]
{ The user's retrained models, settings and logs live in MyUserDataDir, outside {app}.
  Keep them by default: they may hold hours of training. Delete them only if the user says
  so (the question defaults to No), or with /PURGEUSERDATA=1 on the uninstaller's command
  line. A silent uninstall without that switch keeps them. }

function UserDataDir(): String;
begin
  Result := ExpandConstant('{#MyUserDataDir}');
end;

function PurgeRequested(): Boolean;
var
  I: Integer;
begin
  Result := False;
  for I := 1 to ParamCount do
    if CompareText(ParamStr(I), '/PURGEUSERDATA=1') = 0 then
      Result := True;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  DeleteData: Boolean;
begin
  if CurUninstallStep <> usPostUninstall then
    exit;
  if not DirExists(UserDataDir()) then
    exit;
  DeleteData := PurgeRequested();
  if (not DeleteData) and (not UninstallSilent()) then
    DeleteData := MsgBox('Also delete your retrained models, settings and logs?' + #13#10 + #13#10 +
      UserDataDir() + #13#10 + #13#10 +
      'Choose No to keep them for a later installation of XRay Viewer.',
      mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES;
  if DeleteData then
  begin
    if not DelTree(UserDataDir(), True, True, True) then
      Log('Could not delete ' + UserDataDir());
  end
  else
    Log('Kept the user data folder ' + UserDataDir());
end;
